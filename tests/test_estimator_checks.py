"""scikit-learn's estimator checks on the tabular path of every model."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_dvae import DIPVAE, AnnealedVAE, BetaTCVAE, BetaVAE, CHyVAE, FactorVAE

# Small networks and few epochs keep the checks fast. Every check runs and passes:
# no check is listed as an expected failure.
_ESTIMATORS = [
    BetaVAE(beta=4.0, latent_dim=2, hidden_units=(8,), max_epochs=2, random_state=0),
    AnnealedVAE(
        gamma=10.0,
        c_max=2.0,
        iteration_threshold=5,
        latent_dim=2,
        hidden_units=(8,),
        max_epochs=2,
        random_state=0,
    ),
    DIPVAE(
        lambda_od=5.0, dip_type="i", latent_dim=2, hidden_units=(8,), max_epochs=2, random_state=0
    ),
    FactorVAE(
        gamma=5.0,
        latent_dim=2,
        hidden_units=(8,),
        discriminator_hidden_units=(8,),
        max_epochs=2,
        random_state=0,
    ),
    BetaTCVAE(beta=6.0, latent_dim=2, hidden_units=(8,), max_epochs=2, random_state=0),
    CHyVAE(nu=6.0, latent_dim=2, hidden_units=(8,), max_epochs=2, random_state=0),
]


# The same checks with each model's default networks (MLP 256-256, FactorVAE's
# discriminator of 6 x 1000 units), two latents and two epochs.
_DEFAULT_NETWORKS = [
    model(latent_dim=2, max_epochs=2, random_state=0)
    for model in (BetaVAE, AnnealedVAE, DIPVAE, FactorVAE, BetaTCVAE)
] + [CHyVAE(nu=6.0, latent_dim=2, max_epochs=2, random_state=0)]


@parametrize_with_checks(_ESTIMATORS + _DEFAULT_NETWORKS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
