"""reluscope.experiments.certified: the certified classes of teacher-student students, the
comparison with the threshold classes, and the consistency check with the float spectrum."""
import torch

from reluscope import certify
from reluscope.certify import Reason, Verdict
from reluscope.experiments import certified
from reluscope.experiments import teacher_student as ts

F64 = torch.float64


def test_classes_of_known_students():
    """The teacher (structure), a split-neuron student (structure; no point certificate on its
    flat manifold), the teacher embedded with a dead neuron 1e-3 off (no structure match at tol
    1e-6), and a diverging flag: each gets its class; the teacher embedded in width 5 has the
    teacher's loss (the floor of non-globality)."""
    data = ts.data_of_teacher()
    teacher = ts.params(4, ts.TEACHER_W, ts.TEACHER_A)
    net5 = ts.student(5)
    embedded = certified.teacher_in_student(5, teacher, ts.student(4).unflatten, net5.flatten)
    from reluscope import hessian
    torch.testing.assert_close(hessian.loss(net5, embedded, data),
                               hessian.loss(ts.student(4), teacher, data), rtol=0, atol=1e-30)
    split = ts.params(5, ts.TEACHER_W + [ts.TEACHER_W[0]], [0.3] + ts.TEACHER_A[1:] + [0.7])
    theta = torch.cat([split, embedded + 1e-3, split])
    classes, cert, moved = certified.classify(net5, theta, data, ts.student(4), teacher,
                                              torch.tensor([False, False, True]))
    assert classes[0] == "global minimum (structure)"
    assert classes[2] == "global minimum (structure)"  # the structure outranks a diverging flag
    assert classes[1] != "global minimum (structure)" and moved.shape == (3,)
    assert cert.verdict.shape == (3,)


def test_compare_counts_confirmed_refuted_open():
    threshold = ["local minimum", "local minimum", "saddle", "global minimum", "unresolved",
                 "local minimum"]
    proved = ["local minimum (proved non-global)", "saddle (proved)", "saddle (proved)",
              "local minimum (proved non-global)", "saddle (proved)", "not certified: kink"]
    loss = torch.tensor([1e-5, 1e-3, 0.1, 1e-9, 0.2, 1e-6])
    out = certified.compare(threshold, proved, loss)
    assert out["local minimum"] == {"confirmed": 1, "refuted": 1, "open": 1}
    assert out["saddle"] == {"confirmed": 1, "refuted": 0, "open": 0}
    assert out["global minimum"] == {"confirmed": 0, "refuted": 1, "open": 0}
    assert out["unresolved"] == {"confirmed": 0, "refuted": 0, "open": 1}
    assert out["local minimum, loss < 1e-4"] == {"local minimum (proved non-global)": 1,
                                                 "not certified: kink": 1}


def test_contradictions_count_proofs_the_spectrum_refutes():
    nan2 = torch.full((4, 2), float("nan"), dtype=F64)
    cert = certify.Certificate(
        torch.tensor([Verdict.minimum, Verdict.minimum, Verdict.saddle, Verdict.saddle]),
        torch.ones(4, dtype=F64), nan2, nan2, torch.tensor([0, 0, 2, 2]),
        torch.full((4,), int(Reason.none)))
    negative = torch.tensor([0, 1, 1, 2])
    unresolved = torch.tensor([3, 0, 0, 0])
    # a minimum with a resolved negative eigenvalue; a saddle of index >= 2 with 1 below +band
    assert certified.contradictions(cert, negative, unresolved) == 2
