"""The experiments' fixed-length kernels and ridge solver against independent computations.

NumPy only (no scikit-learn, no matplotlib): these run with the ``dev`` extra.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import kernels
from experiments.ridge import cv_ridge_scores, fit_predict_kernelridge, ridge_path


def _relu_expectations(k11: float, k22: float, k12: float) -> tuple[float, float]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for (u, v) ~ N(0, [[k11, k12], [k12, k22]]) (Cho & Saul)."""
    if k11 == 0 or k22 == 0:
        return 0.0, 0.0
    norm = math.sqrt(k11 * k22)
    c = max(-1.0, min(1.0, k12 / norm))
    angle = math.acos(c)
    value = norm * (math.sin(angle) + (math.pi - angle) * math.cos(angle)) / (2 * math.pi)
    return value, (math.pi - angle) / (2 * math.pi)


def _mlp_ntk_pair(x: np.ndarray, z: np.ndarray, sigma_w: float, sigma_b: float, depth: int) -> float:
    """One pair, the paper's Appendix A sum-of-products form with every layer (read-out included) Dense(σw, σb):

    NTK = Σ_{l=1}^{L+1} Σ^(l) · Π_{l'=l}^{L} Σ̇^(l'),   Σ̇^(l) = σw² E[relu'(u) relu'(v)] under Σ^(l).
    """
    m = len(x)
    sw2, sb2 = sigma_w ** 2, sigma_b ** 2
    cov = [[sw2 * float(x @ x) / m + sb2, sw2 * float(x @ z) / m + sb2, sw2 * float(z @ z) / m + sb2]]
    dots = []
    for _ in range(depth):
        a, c, b = cov[-1]
        v_ab, d_ab = _relu_expectations(a, b, c)
        v_aa, _ = _relu_expectations(a, a, a)
        v_bb, _ = _relu_expectations(b, b, b)
        dots.append(sw2 * d_ab)
        cov.append([sw2 * v_aa + sb2, sw2 * v_ab + sb2, sw2 * v_bb + sb2])
    total = 0.0
    for l in range(depth + 1):                     # cov[l] is Σ^(l+1)
        total += cov[l][1] * math.prod(dots[l:])
    return total


@pytest.mark.parametrize("sigma_w,sigma_b", [(math.sqrt(2), 0.0), (1.0, 0.5), (2.5, 2.0)])
def test_mlp_ntk_matches_the_sum_of_products_form(sigma_w, sigma_b):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 7))
    Z = rng.standard_normal((4, 7))
    X[2] = 0.0                                      # a zero input (zero variance when σb = 0)
    depths = [1, 2, 5]
    sym = kernels.mlp_ntk(X, sigma_w=sigma_w, sigma_b=sigma_b, depths=depths)
    cross = kernels.mlp_ntk(X, Z, sigma_w=sigma_w, sigma_b=sigma_b, depths=depths)
    for depth in depths:
        want_sym = np.array([[_mlp_ntk_pair(a, b, sigma_w, sigma_b, depth) for b in X] for a in X])
        want_cross = np.array([[_mlp_ntk_pair(a, b, sigma_w, sigma_b, depth) for b in Z] for a in X])
        np.testing.assert_allclose(sym[depth], want_sym, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cross[depth], want_cross, rtol=1e-10, atol=1e-12)
        assert np.min(np.linalg.eigvalsh(sym[depth])) > -1e-10 * np.max(np.abs(sym[depth]))


def test_rbf_polynomial_and_padding_match_their_definitions():
    rng = np.random.default_rng(2)
    seqs = [rng.standard_normal((L, 2)) for L in (3, 5, 4)]
    post = kernels.pad(seqs, where="post")
    pre = kernels.pad(seqs, 6, where="pre")
    assert post.shape == (3, 10) and pre.shape == (3, 12)
    np.testing.assert_array_equal(post[0], np.concatenate([seqs[0].ravel(), np.zeros(4)]))
    np.testing.assert_array_equal(pre[2], np.concatenate([np.zeros(4), seqs[2].ravel()]))
    with pytest.raises(ValueError):
        kernels.pad(seqs, 4)

    X, Z = post, post[::-1] + 0.1
    want_rbf = np.array([[math.exp(-0.7 * float(np.sum((a - b) ** 2))) for b in Z] for a in X])
    np.testing.assert_allclose(kernels.rbf(X, Z, alpha=0.7), want_rbf, rtol=1e-12)
    assert np.all(np.diag(kernels.rbf(X, alpha=3.0)) == 1.0)
    want_poly = np.array([[(0.5 + float(a @ b)) ** 3 for b in Z] for a in X])
    np.testing.assert_allclose(kernels.polynomial(X, Z, degree=3, offset=0.5), want_poly, rtol=1e-12)


def test_ridge_path_matches_a_direct_solve_and_refuses_singular_systems():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((9, 4))                 # rank 4: K is singular
    K = A @ A.T
    Y = rng.standard_normal((7, 3))
    ridges = [0.0, 1e-3, 0.5, 10.0]
    path = ridge_path(K[:7, :7], K[7:, :7], Y, ridges)
    assert path.shape == (4, 2, 3)
    assert np.all(np.isnan(path[0]))                # λ = 0 on a rank-4 7×7 matrix
    for g, lam in enumerate(ridges[1:], start=1):
        want = K[7:, :7] @ np.linalg.solve(K[:7, :7] + lam * np.eye(7), Y)
        np.testing.assert_allclose(path[g], want, rtol=1e-9, atol=1e-12)
    one = ridge_path(K[:7, :7], K[7:, :7], Y[:, 0], [0.5])
    np.testing.assert_allclose(one[0], path[2, :, 0], rtol=1e-12)


def test_ridge_path_admits_a_ridge_only_above_the_conditioning_bound():
    K = np.diag([2.0, 1.0, 1.0, 0.0, 0.0])          # exact eigenvalues; n·eps·top ≈ 2.2e-15
    y = np.arange(1.0, 6.0)
    path = ridge_path(K, K, y, [1e-17, 1e-12])
    assert np.all(np.isnan(path[0]))                # positive but within rounding of singular
    np.testing.assert_allclose(path[1], K @ np.linalg.solve(K + 1e-12 * np.eye(5), y), rtol=1e-9)


def test_cv_ridge_scores_is_minus_the_mean_validation_error():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 5))
    K = np.exp(-0.3 * kernels.squared_distances(X))
    y = rng.standard_normal(12)
    folds = [(np.setdiff1d(np.arange(12), v), v) for v in np.array_split(rng.permutation(12), 3)]
    ridges = [0.01, 0.1, 1.0]
    got = cv_ridge_scores(K, folds, y, ridges, "regression", relative=False)
    want = []
    for lam in ridges:
        err = 0.0
        for tr, va in folds:
            alpha = np.linalg.solve(K[np.ix_(tr, tr)] + lam * np.eye(len(tr)), y[tr])
            err += float(np.sum((K[np.ix_(va, tr)] @ alpha - y[va]) ** 2))
        want.append(-err / 12)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_kernelridge_on_a_precomputed_matrix_matches_a_dense_solve(task):
    rng = np.random.default_rng(5)
    F = rng.normal(size=(30, 4))
    K = np.exp(-0.5 * ((F[:, None, :] - F[None, :, :]) ** 2).sum(axis=2))
    train, test = np.arange(0, 30, 3)[::-1], np.setdiff1d(np.arange(30), np.arange(0, 30, 3))
    y = np.sin(F[train, 0]) if task == "regression" else np.where(F[train, 1] > 0, "b", "a")
    predicted, model = fit_predict_kernelridge(K, train, test, y, 0.05, task)
    Y = y if task == "regression" else (y[:, None] == np.array(["a", "b"])) - 0.5
    dense = K[np.ix_(test, train)] @ np.linalg.solve(K[np.ix_(train, train)] + 0.05 * np.eye(len(train)), Y)
    if task == "regression":
        assert np.allclose(predicted, dense, rtol=1e-10, atol=1e-12)
    else:
        assert predicted.tolist() == np.array(["a", "b"])[np.argmax(dense, axis=1)].tolist()
    assert model.X_fit_ is None and model.ridge_ == 0.05
