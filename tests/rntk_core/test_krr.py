"""Kernel ridge regression on the RNTK, checked against dense solves and brute-force refits."""

from pathlib import Path

import numpy as np
import pytest

from rntk_core import KernelRidge, RNTKParams, gram, gram_diagonal
from rntk_core.datasets import load_ts, unit_norm
from rntk_core.krr import AUTO_RIDGE_GRID, NotFittedError, NotPositiveDefiniteError
from rntk_core.krr import _linalg as la

DATA = Path(__file__).resolve().parents[2] / "data"
PARAMS = RNTKParams(sigma_b=0.1, sigma_h=0.0)


def batch(rng, n, m=2, lo=3, hi=12):
    return [rng.normal(size=(int(t), m)) for t in rng.integers(lo, hi, size=n)]


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X, Z = batch(rng, 24), batch(rng, 9)
    y = np.array([np.tanh(s[:, 0].sum()) + 0.1 * s[-1, 1] for s in X])
    Y = np.stack([y, np.array([s[:, 1].mean() for s in X])], axis=1)
    return X, Z, y, Y


def rel_err(a, b):
    return np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b)


# predictions equal the closed form


@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
@pytest.mark.parametrize("two_d", [False, True])
@pytest.mark.parametrize("ridge", [0.0, 1e-3, 2.5])
def test_predictions_match_dense_solve(data, kernel, two_d, ridge):
    X, Z, y, Y = data
    target = Y if two_d else y
    model = KernelRidge(params=PARAMS, ridge=ridge, kernel=kernel).fit(X, target)
    K = gram(X, params=PARAMS, output=kernel)
    alpha = np.linalg.solve(K + ridge * np.eye(len(X)), target)
    assert model.dual_coef_.shape == target.shape
    assert rel_err(model.dual_coef_, alpha) < 1e-10
    expected = gram(Z, X, params=PARAMS, output=kernel) @ alpha
    assert model.predict(Z).shape == expected.shape
    assert rel_err(model.predict(Z), expected) < 1e-10


def test_multi_output_equals_separate_fits(data):
    X, Z, _, Y = data
    both = KernelRidge(params=PARAMS, ridge=0.1).fit(X, Y).predict(Z)
    for j in range(Y.shape[1]):
        one = KernelRidge(params=PARAMS, ridge=0.1).fit(X, Y[:, j]).predict(Z)
        assert rel_err(both[:, j], one) < 1e-12


def test_classification_is_argmax_of_centred_one_hot_regression(data):
    X, Z, y, _ = data
    labels = np.where(y > 0.3, "hi", np.where(y < -0.3, "lo", "mid"))
    model = KernelRidge(params=PARAMS, ridge=0.05, task="classification").fit(X, labels)
    assert model.classes_.tolist() == ["hi", "lo", "mid"]
    targets = np.eye(3)[np.searchsorted(model.classes_, labels)] - 1.0 / 3
    K = gram(X, params=PARAMS)
    scores = gram(Z, X, params=PARAMS) @ np.linalg.solve(K + 0.05 * np.eye(len(X)), targets)
    assert rel_err(model.decision_function(Z), scores) < 1e-10
    assert model.predict(Z).tolist() == model.classes_[np.argmax(scores, axis=1)].tolist()
    assert model.score(X, labels) == np.mean(model.predict(X) == labels)


def test_labels_keep_their_type_and_order(data):
    X, _, y, _ = data
    ints = np.where(y > 0, 10, -3)
    model = KernelRidge(ridge=0.1, task="classification").fit(X, ints)
    assert model.classes_.tolist() == [-3, 10] and model.predict(X[:2]).dtype == ints.dtype
    mixed = [1 if v > 0 else "1" for v in y]
    model = KernelRidge(ridge=0.1, task="classification").fit(X, mixed)
    assert len(model.classes_) == 2 and set(map(type, model.classes_)) == {int, str}
    assert model.score(X, mixed) > 0.9


# automatic ridge: exact leave-one-out


def brute_force_loo(K, Y, ridge):
    """Refit without each sequence in turn; residual of the left-out one."""
    n = len(K)
    out = np.empty_like(Y)
    for i in range(n):
        keep = np.arange(n) != i
        alpha = np.linalg.solve(K[np.ix_(keep, keep)] + ridge * np.eye(n - 1), Y[keep])
        out[i] = Y[i] - K[i, keep] @ alpha
    return out


@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
def test_auto_ridge_loo_curve_matches_brute_force(data, kernel):
    X, _, _, Y = data
    X, Y = X[:14], Y[:14]
    model = KernelRidge(params=PARAMS, ridge="auto", kernel=kernel).fit(X, Y)
    curve = model.loo_curve_
    K = gram(X, params=PARAMS, output=kernel)
    assert np.allclose(curve["ridge"], AUTO_RIDGE_GRID * np.mean(np.diag(K)), rtol=1e-14)
    for j in range(0, len(curve["ridge"]), 4):
        mse = np.mean(brute_force_loo(K, Y, curve["ridge"][j]) ** 2)
        assert abs(curve["loo_mse"][j] - mse) <= 1e-8 * mse
    assert model.ridge_ == curve["ridge"][np.argmin(curve["loo_mse"])]
    refit = KernelRidge(params=PARAMS, ridge=model.ridge_, kernel=kernel).fit(X, Y)
    assert np.array_equal(refit.dual_coef_, model.dual_coef_)


def test_loo_residuals_per_sequence_and_accuracy(data):
    X, _, y, _ = data
    labels = (y > 0).astype(int)
    K = gram(X, params=PARAMS)
    Y = np.eye(2)[labels] - 0.5
    ridges = np.array([1e-4, 0.3, 30.0])
    eig = la.eigen(K, Y)
    curve = la.loo_curve(K, Y, ridges, labels=labels)
    for j, ridge in enumerate(ridges):
        brute = brute_force_loo(K, Y, ridge)
        assert np.allclose(la.loo_residuals(eig, ridge), brute, rtol=1e-9, atol=1e-12)
        assert curve["loo_accuracy"][j] == np.mean(np.argmax(Y - brute, axis=1) == labels)


def test_auto_ridge_on_classification_records_loo_accuracy(data):
    X, _, y, _ = data
    model = KernelRidge(params=PARAMS, task="classification").fit(X, y > 0)
    assert set(model.loo_curve_) == {"ridge", "loo_mse", "loo_accuracy"}
    assert np.all((model.loo_curve_["loo_accuracy"] >= 0) & (model.loo_curve_["loo_accuracy"] <= 1))
    assert KernelRidge(ridge=0.1).fit(X, y).loo_curve_ is None


# Gaussian-process variance


def test_std_matches_dense_formula_and_is_nonnegative(data):
    X, Z, y, _ = data
    ridge = 1e-2
    model = KernelRidge(params=PARAMS, ridge=ridge, kernel="nngp").fit(X, y)
    mean, std = model.predict(Z, return_std=True)
    K = gram(X, params=PARAMS, output="nngp")
    k = gram(Z, X, params=PARAMS, output="nngp")
    var = gram_diagonal(Z, params=PARAMS, output="nngp") - np.einsum(
        "ij,ji->i", k, np.linalg.solve(K + ridge * np.eye(len(X)), k.T)
    )
    assert np.all(std >= 0) and std.shape == (len(Z),)
    assert np.allclose(std**2, var, rtol=1e-9, atol=1e-14)
    assert np.array_equal(mean, model.predict(Z))


def test_as_ridge_goes_to_zero_training_points_are_interpolated(data):
    X, _, _, Y = data
    prior = np.sqrt(gram_diagonal(X, params=PARAMS, output="nngp"))
    worst = []
    for ridge in [1e-2, 1e-4, 1e-6, 1e-8]:
        mean, std = KernelRidge(params=PARAMS, ridge=ridge, kernel="nngp").fit(X, Y).predict(X, return_std=True)
        assert np.all(std >= 0)
        worst.append((np.max(np.abs(mean - Y)), np.max(std / prior)))
    assert worst[-1][0] < 1e-6 and worst[-1][1] < 1e-3
    assert all(a[0] > b[0] and a[1] > b[1] for a, b in zip(worst, worst[1:]))


def test_std_needs_the_nngp_kernel(data):
    X, Z, y, _ = data
    model = KernelRidge(ridge=0.1, kernel="ntk").fit(X, y)
    with pytest.raises(ValueError, match=r"^return_std: .*kernel='nngp'"):
        model.predict(Z, return_std=True)


# Cholesky failures are reported, not papered over


def test_ridge_zero_on_a_singular_kernel_says_what_to_do():
    X = [np.zeros((4, 2))] * 3 + [np.ones((2, 2))]  # zero inputs have a zero kernel row
    y = [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(NotPositiveDefiniteError, match=r"^ridge: the kernel matrix is not positive definite at ridge=0\.0; use ridge='auto'"):
        KernelRidge(ridge=0.0).fit(X, y)
    assert KernelRidge(ridge="auto").fit(X, y).ridge_ > 0
    assert issubclass(NotPositiveDefiniteError, ValueError)


def test_numerically_singular_factor_is_rejected():
    v = np.arange(1.0, 7.0)
    with pytest.raises(NotPositiveDefiniteError, match=r"at ridge=0\.0.*ridge='auto'"):
        la.cholesky(np.outer(v, v), 0.0)
    assert la.cholesky(np.outer(v, v), 1e-3).shape == (6, 6)


def test_blocked_triangular_solves_match_dense(data):
    rng = np.random.default_rng(3)
    n = 3 * la.BLOCK + 17
    A = rng.normal(size=(n, n))
    L = np.linalg.cholesky(A @ A.T + n * np.eye(n))
    B = rng.normal(size=(n, 4))
    assert rel_err(la.solve_lower(L, B), np.linalg.solve(L, B)) < 1e-12
    assert rel_err(la.solve_upper_transposed(L, B), np.linalg.solve(L.T, B)) < 1e-12
    assert rel_err(la.cho_solve(L, B[:, 0]), np.linalg.solve(L @ L.T, B[:, 0])) < 1e-10


# validation


@pytest.mark.parametrize(
    "kwargs, X, y, message",
    [
        ({}, "X5", [1.0, 2.0, 3.0], r"^y: has 3 targets but X has 5 sequences"),
        ({}, "X5", [1.0, np.nan, 0, 0, 0], r"^y: contains NaN or infinite values \(first at y\[1\]\)"),
        ({}, "X5", [1.0, 0, 0, np.inf, 0], r"^y: contains NaN or infinite"),
        ({}, "X5", np.zeros((5, 2, 2)), r"^y: expected shape"),
        ({}, "X5", ["a", "b", "c", "d", "e"], r"^y: regression targets must be numbers"),
        ({}, [], [], r"^X: the batch holds no sequences"),
        ({}, "bad3", [0.0] * 5, r"^X\[3\]: contains NaN"),
        ({"task": "classification"}, "X5", ["a"] * 5, r"^y: classification needs at least 2 classes"),
        ({"task": "classification"}, "X5", ["a", "b"], r"^y: has 2 labels but X has 5"),
        ({"task": "classification"}, "X5", [1.0, 2.0, np.nan, 1.0, 2.0], r"^y: contains a missing label"),
        ({"task": "ranking"}, "X5", [0.0] * 5, r"^task: must be one of"),
        ({"kernel": "rbf"}, "X5", [0.0] * 5, r"^kernel: must be one of"),
        ({"ridge": -1.0}, "X5", [0.0] * 5, r"^ridge: must be a finite number >= 0"),
        ({"ridge": float("nan")}, "X5", [0.0] * 5, r"^ridge: must be a finite number"),
        ({"ridge": "fast"}, "X5", [0.0] * 5, r"^ridge: expected a number >= 0 or 'auto'"),
        ({"ridge": True}, "X5", [0.0] * 5, r"^ridge: expected a number"),
        ({"params": {"activation": "relu"}}, "X5", [0.0] * 5, r"^params: expected RNTKParams"),
    ],
)
def test_bad_input_names_the_field(kwargs, X, y, message):
    rng = np.random.default_rng(0)
    if X == "X5":
        X = batch(rng, 5)
    elif X == "bad3":
        X = batch(rng, 5)
        X[3][1, 0] = np.nan
    with pytest.raises(ValueError, match=message):
        KernelRidge(**kwargs).fit(X, y)


def test_auto_ridge_needs_two_sequences():
    with pytest.raises(ValueError, match=r"^ridge: 'auto' uses leave-one-out"):
        KernelRidge().fit([[1.0, 2.0]], [1.0])


def test_predict_before_fit_and_on_wrong_features(data):
    X, Z, y, _ = data
    for call in (lambda m: m.predict(Z), lambda m: m.decision_function(Z), lambda m: m.score(Z, y[:9])):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call(KernelRidge())
    model = KernelRidge(ridge=1.0).fit(X, y)
    with pytest.raises(ValueError, match=r"^X\[0\]: has m=3 features"):
        model.predict([np.ones((4, 3))])


# precomputed Grams: fit and predict are fit_gram and predict_gram on rntk_core.gram's matrices


@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("ridge", [0.1, "auto"])
def test_precomputed_grams_give_the_fit_and_predictions_bit_for_bit(data, kernel, task, ridge):
    X, Z, y, Y = data
    targets = np.where(y > 0, "pos", "neg") if task == "classification" else Y
    own = KernelRidge(params=PARAMS, ridge=ridge, kernel=kernel, task=task).fit(X, targets)
    pre = KernelRidge(params=PARAMS, ridge=ridge, kernel=kernel, task=task).fit_gram(
        gram(X, params=PARAMS, output=kernel), targets)
    assert pre.X_fit_ is None and pre.ridge_ == own.ridge_
    assert np.array_equal(pre.dual_coef_, own.dual_coef_) and np.array_equal(pre.cholesky_, own.cholesky_)
    cross = gram(Z, X, params=PARAMS, output=kernel)
    assert np.array_equal(pre.decision_function_gram(cross), own.decision_function(Z))
    assert np.array_equal(pre.predict_gram(cross), own.predict(Z))
    if kernel == "nngp":
        diag = gram_diagonal(Z, params=PARAMS, output="nngp")
        for a, b in zip(pre.predict_gram(cross, return_std=True, K_diag=diag), own.predict(Z, return_std=True)):
            assert np.array_equal(a, b)


def test_fit_gram_with_sequences_predicts_from_sequences_and_saves(data):
    X, Z, y, _ = data
    own = KernelRidge(params=PARAMS, ridge=0.1, kernel="nngp").fit(X, y)
    pre = KernelRidge(params=PARAMS, ridge=0.1, kernel="nngp").fit_gram(gram(X, params=PARAMS, output="nngp"), y, X=X)
    for a, b in zip(pre.predict(Z, return_std=True), own.predict(Z, return_std=True)):
        assert np.array_equal(a, b)
    assert pre.to_bytes() == own.to_bytes()


def test_precomputed_grams_are_checked(data):
    X, Z, y, _ = data
    K = gram(X, params=PARAMS)
    model = KernelRidge(params=PARAMS, ridge=0.1)
    with pytest.raises(ValueError, match=r"^K: expected a square \(N, N\) training Gram K\(X, X\), got shape \(24, 9\)"):
        model.fit_gram(K[:, :9], y)
    with pytest.raises(ValueError, match=r"^K: expected a square .* got shape \(24,\)"):
        model.fit_gram(np.diag(K), y)
    with pytest.raises(ValueError, match=r"^K: contains NaN or infinite values"):
        model.fit_gram(np.where(np.eye(24) > 0, np.nan, K), y)
    skew = K.copy()
    skew[0, 1] += 1.0
    with pytest.raises(ValueError, match=r"^K: a training Gram K\(X, X\) must be symmetric"):
        model.fit_gram(skew, y)
    with pytest.raises(ValueError, match=r"^K: must be a matrix of numbers"):
        model.fit_gram([["a"] * 24] * 24, y)
    with pytest.raises(ValueError, match=r"^y: has 9 targets but X has 24 sequences"):
        model.fit_gram(K, y[:9])
    with pytest.raises(ValueError, match=r"^X: has 9 sequences but K is a Gram of 24"):
        model.fit_gram(K, y, X=X[:9])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict_gram(K)

    model.fit_gram(K, y)
    cross = gram(Z, X, params=PARAMS)
    with pytest.raises(ValueError, match=r"^K: expected a cross Gram K\(X\*, X\) of shape \(M, 24\), got shape \(24, 9\)"):
        model.predict_gram(cross.T)
    with pytest.raises(ValueError, match=r"^K: expected a cross Gram"):
        model.decision_function_gram(cross[0])
    with pytest.raises(ValueError, match=r"^X: this model was fitted by fit_gram without its training sequences"):
        model.predict(Z)
    with pytest.raises(ValueError, match=r"^X: this model holds no training sequences"):
        model.to_bytes()
    with pytest.raises(ValueError, match=r"^return_std: .*kernel='nngp'"):
        model.predict_gram(cross, return_std=True, K_diag=np.ones(9))

    gp = KernelRidge(params=PARAMS, ridge=0.1, kernel="nngp").fit_gram(gram(X, params=PARAMS, output="nngp"), y)
    cross = gram(Z, X, params=PARAMS, output="nngp")
    with pytest.raises(ValueError, match=r"^K_diag: return_std needs the prior variances"):
        gp.predict_gram(cross, return_std=True)
    with pytest.raises(ValueError, match=r"^K_diag: expected shape \(9,\)"):
        gp.predict_gram(cross, return_std=True, K_diag=np.ones(8))
    with pytest.raises(ValueError, match=r"^K_diag: contains NaN"):
        gp.predict_gram(cross, return_std=True, K_diag=np.full(9, np.inf))


# estimator protocol and scores


def test_estimator_protocol(data):
    X, Z, y, _ = data
    model = KernelRidge(params=PARAMS, ridge=0.5)
    assert vars(model) == {"params": PARAMS, "ridge": 0.5, "kernel": "ntk", "task": "regression"}
    assert model.fit(X, y) is model
    clone = KernelRidge(**model.get_params()).set_params(ridge=2.0)
    assert clone.ridge == 2.0 and not hasattr(clone, "dual_coef_")
    with pytest.raises(ValueError, match=r"^alpha: not a parameter"):
        clone.set_params(alpha=1.0)
    assert "ridge=0.5" in repr(model)


def test_r2_score(data):
    X, Z, y, Y = data
    model = KernelRidge(params=PARAMS, ridge=0.1).fit(X, Y)
    yz = np.array([[np.tanh(s[:, 0].sum()), s[:, 1].mean()] for s in Z])
    pred = model.predict(Z)
    r2 = 1 - ((yz - pred) ** 2).sum(0) / ((yz - yz.mean(0)) ** 2).sum(0)
    assert model.score(Z, yz) == pytest.approx(r2.mean(), rel=1e-12)
    assert KernelRidge(params=PARAMS, ridge=1e-9).fit(X, y).score(X, y) == pytest.approx(1.0, abs=1e-6)


# real data (SPEC §4 preprocessing: each series scaled to unit norm)


@pytest.mark.parametrize("name", ["GunPoint", "JapaneseVowels"])
def test_real_data_accuracy_with_default_hyperparameters(name):
    X, y = load_ts(DATA / name / f"{name}_TRAIN.ts")
    Z, yz = load_ts(DATA / name / f"{name}_TEST.ts")
    model = KernelRidge(ridge="auto", task="classification").fit(unit_norm(X), y)
    assert model.score(unit_norm(Z), yz) >= 0.93
