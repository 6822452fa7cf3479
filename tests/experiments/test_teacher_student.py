"""reluscope.experiments.teacher_student: how a student's class follows from the classifier."""
import torch

from reluscope import hessian
from reluscope.experiments import teacher_student as ts


def test_kind_of_every_label():
    assert ts.kind("not critical", 1.0, True) == "diverging"
    assert ts.kind("not critical", 1.0, False) == "not converged"
    assert ts.kind("saddle", 0.0, False) == "saddle"
    assert ts.kind("unresolved", 1e-12, False) == "global minimum"
    assert ts.kind("minimum", 1e-4, False) == "local minimum"
    assert ts.kind("unresolved", 1e-4, False) == "unresolved"
    assert set(ts.KINDS) >= {"unresolved", "saddle", "local minimum", "global minimum"}


def test_students_near_the_split_neuron_minima_are_not_saddles():
    """The seed's grid and teacher; width-5 students 1e-6 away from the split-neuron line of
    global minima: gradient ~1e-6 (converged by GRAD_TOL) and lambda_min ~ -1e-7 ... -1e-6, which
    the fixed threshold (saddle if lambda_min < -1e-7) labelled saddles. Their lambda_min is
    within its resolution, so they are what their loss says: global minima."""
    data = ts.data_of_teacher()
    split = ts.params(5, ts.TEACHER_W + [ts.TEACHER_W[0]], [0.3] + ts.TEACHER_A[1:] + [0.7])
    d = torch.randn(16, split.shape[1], generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    theta = split + 1e-6 * d / d.norm(dim=1, keepdim=True)
    net = ts.student(5)
    c = hessian.classify(net, theta, data, grad_tol=ts.GRAD_TOL)
    assert (c.grad_norm < ts.GRAD_TOL).all() and (c.lambda_min < -1e-7).sum() >= 8
    loss = hessian.loss(net, theta, data)
    kinds = [ts.kind(lb, ls, False) for lb, ls in zip(c.label, loss.tolist())]
    assert kinds == ["global minimum"] * 16
