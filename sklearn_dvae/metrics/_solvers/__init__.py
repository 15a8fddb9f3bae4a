"""The metrics' own solvers, each the model of a scikit-learn estimator fitted faster.

Each solver fits the same model as the scikit-learn estimator that
disentanglement_lib uses, and is tested against it (tests/metrics/test_solver_*.py):

- :class:`BoostedTrees` (``boosted_trees``): ``GradientBoostingClassifier()`` and
  ``GradientBoostingRegressor()``, the trees of a stage grown together (compiled by
  numba when it is installed, numpy otherwise); DCI's ``importance="fast_gbt"``.
- :class:`OneFeatureLinearSVC` with :class:`SortedColumns` (``one_feature_svm``):
  ``LinearSVC(class_weight="balanced")`` on each feature alone, by Newton's method on
  prefix sums; SAP's ``solver="newton"``.
- :class:`LBFGSLogisticRegression` (``logistic_regression``): ``LogisticRegression()``
  with a vectorised loss; explicitness's default classifier.
"""

from .boosted_trees import BoostedTrees
from .logistic_regression import LBFGSLogisticRegression
from .one_feature_svm import OneFeatureLinearSVC, SortedColumns

__all__ = ["BoostedTrees", "LBFGSLogisticRegression", "OneFeatureLinearSVC", "SortedColumns"]
