"""Figures a reader can read: the posterior's error-vs-band panel, labelled kernel blocks,
fitted lines above the guide."""

import numpy as np

import theory
from ntk_pinn import Operator, mlp, problems
from validation import plots


def test_posterior_figure_has_a_log_panel_of_error_and_band():
    problem = problems.poisson_1d(2.0)
    obs = list(problem.data(16, 2).values())
    x = problem.grid(41)
    post = theory.gp_posterior(mlp(8, 2), obs, x, calibrate="rkhs")
    fig = plots.posterior_figure(problem, x, post, k=3)
    assert len(fig.axes) == 2
    panel = fig.axes[1]
    assert panel.get_yscale() == "log"
    labels = [line.get_label() for line in panel.get_lines()]
    assert "|u - mean|" in labels and "3σ + resolution" in labels
    band = panel.get_lines()[labels.index("3σ + resolution")].get_ydata()
    np.testing.assert_allclose(band, 3 * post.std + post.resolution)
    x2 = problems.heat_1d().grid(9)
    post2 = theory.gp_posterior(mlp(8, 2), list(problems.heat_1d().data(16, 8).values()), x2)
    fig2 = plots.posterior_figure(problems.heat_1d(), x2, post2)
    norms = [type(im.norm).__name__ for ax in fig2.axes for im in ax.get_images()]
    assert norms == ["Normalize", "LogNorm", "LogNorm"]   # mean, |error|, band


def test_kernel_heatmap_labels_every_block():
    x = np.linspace(0, 1, 6)[:, None]
    K = theory.limiting_kernel(mlp(8, 1), {"u": (Operator("u", "x"), x[:2]),
                                           "r": (Operator("u_xx", "x"), x)})
    texts = {t.get_text() for t in plots.kernel_heatmap_figure(K).axes[0].texts}
    assert texts == {"K[u, u]", "K[u, r]", "K[r, u]", "K[r, r]"}


def test_fitted_lines_are_drawn_above_the_guide():
    plt = plots._pyplot()
    fig, ax = plt.subplots()
    widths = np.array([16, 64, 256])
    values = np.array([[0.5, 0.6], [0.25, 0.3], [0.12, 0.15]])
    plots._loglog_panel(ax, widths, {"r/r": (values, (-0.5, -0.6, -0.4))}, "error")
    guide = next(l for l in ax.get_lines() if "guide" in l.get_label())
    fitted = [l for l in ax.get_lines() if l.get_linestyle() == "-"]
    assert fitted and all(l.get_zorder() > guide.get_zorder() for l in fitted)
    plt.close(fig)
