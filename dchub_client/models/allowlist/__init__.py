"""The allowlist: which classes and functions a ``params.json`` may name.

:mod:`.registry` holds the mechanism (registered classes, package policies, resolving a name
without importing untrusted modules); :mod:`.policies` the policies of the packages dchub trusts
(DeepChem, torch, numpy, Keras); :mod:`.sklearn_estimators` the scikit-learn estimator classes.
"""
