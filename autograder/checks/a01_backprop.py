"""Checks of 01_backprop: backpropagation by hand (lectures 002 and 001).

Conventions the checks enforce (the notebook states them):
- a minibatch is stacked in rows: X has shape (N, D); a fully connected layer stores W with shape (n_out, n_in) as in
  lecture 001 and torch.nn.Linear, so Z = X W^T + b (torch.nn.functional.linear); its cache is the tuple (x, W, b);
- losses average over the batch (1/N) and sum over the outputs of one example; their gradients carry the 1/N,
  layers never divide by N; logarithms are natural (PyTorch), not base 10 (the lecture's 0.89);
- at a kink (z = 0) an activation's derivative is the left one, as PyTorch's autograd gives it;
- an MLP's parameters are a dict {"W1", "b1", ..., "WL", "bL"}; its loss adds reg/2 * sum ||W_l||^2 (biases free).

Every mistake implementation is self-contained (numpy and builtins only): the demo splices it into a notebook.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.framework import (Mismatch, Mistake, cached_reference, check, describe_inputs, expect_close,
                                         expect_true)
from course import testfunctions
from course.gradcheck import numerical_gradient, rel_error

KINDS = ("linear", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus")


def _t(x, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def _item(result, index: int, count: int, what: str, kind: str = "tuple"):
    """result[index] of a tuple/list of count items, or a Mismatch saying what came back instead."""
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = f"a {type(result).__name__} of {len(result)} items" if isinstance(result, (tuple, list)) else \
            ("None (did you forget to return?)" if result is None else f"a {type(result).__name__}")
        raise Mismatch(f"{what} should return a {kind} of {count} items, got {got}")
    return result[index]


def _key(result, key: str, what: str, keys) -> object:
    if not isinstance(result, dict) or set(result) != set(keys):
        got = f"a dict with keys {sorted(result)}" if isinstance(result, dict) else \
            ("None (did you forget to return?)" if result is None else f"a {type(result).__name__}")
        raise Mismatch(f"{what} should return a dict with keys {list(keys)}, got {got}")
    return result[key]


# === 1. the graph f(x, y, z) = (x + y) z ======================================================================

GRAPH_KEYS = ("q", "f", "dfdx", "dfdy", "dfdz")


@cached_reference
def reference_graph(x, y, z) -> dict:
    x, y, z = (torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (x, y, z))
    q = x + y
    f = q * z
    dfdx, dfdy, dfdz = torch.autograd.grad(f, (x, y, z))
    return {"q": q, "f": f, "dfdx": dfdx, "dfdy": dfdy, "dfdz": dfdz}


def _graph_points(rng):
    """(x, y, z, description): the lecture's point first, then random, zero and large values."""
    yield -2.0, 5.0, -4.0, "the lecture's point x = -2, y = 5, z = -4"
    for _ in range(4):
        x, y, z = (float(v) for v in rng.normal(scale=3.0, size=3))
        yield x, y, z, "random scalars x, y, z"
    yield 0.0, 0.0, 0.0, "x = y = z = 0"
    yield 1e3, -2.5e3, 0.5, "large x and y"


def graph_precedence(x, y, z):
    q = x + y
    f = x + y * z
    return {"q": q, "f": f, "dfdx": z, "dfdy": z, "dfdz": q}


def graph_add_gate_at_the_end(x, y, z):
    q = x + y
    f = q + z
    return {"q": q, "f": f, "dfdx": z, "dfdy": z, "dfdz": q}


def graph_q_is_a_product(x, y, z):
    q = x * y
    f = q * z
    return {"q": q, "f": f, "dfdx": z, "dfdy": z, "dfdz": q}


@check("graph_forward", functions=("add_mul_graph",), by_hand=True, mistakes=[
    Mistake("f is computed as x + y * z: the parentheses of (x + y) z are lost, so z multiplies y alone",
            graph_precedence),
    Mistake("the last gate adds z instead of multiplying by it: f = q * z", graph_add_gate_at_the_end),
    Mistake("q is computed as x * y; the first gate is an addition, q = x + y", graph_q_is_a_product),
])
def check_graph_forward(add_mul_graph, rng):
    """The forward values q = x + y and f = q z."""
    for x, y, z, where in _graph_points(rng):
        result = add_mul_graph(x, y, z)
        expected = reference_graph(x, y, z)
        for key in ("q", "f"):
            expect_close(f"add_mul_graph(x, y, z)['{key}']", _key(result, key, "add_mul_graph", GRAPH_KEYS),
                         expected[key], inputs=where, atol=1e-12, rtol=1e-10)


def graph_local_gradients_only(x, y, z):
    q = x + y
    return {"q": q, "f": q * z, "dfdx": 1.0, "dfdy": 1.0, "dfdz": q}


def graph_dfdz_is_z(x, y, z):
    q = x + y
    return {"q": q, "f": q * z, "dfdx": z, "dfdy": z, "dfdz": z}


def graph_q_and_z_swapped(x, y, z):
    q = x + y
    return {"q": q, "f": q * z, "dfdx": q, "dfdy": q, "dfdz": z}


@check("graph_backward", functions=("add_mul_graph",), by_hand=True, mistakes=[
    Mistake("df/dx and df/dy are the local gradients dq/dx = dq/dy = 1, not multiplied by the upstream gradient "
            "df/dq = z (the chain rule)", graph_local_gradients_only),
    Mistake("df/dz is set to z: the multiply gate gives each input the *other* input, so df/dz = q",
            graph_dfdz_is_z),
    Mistake("q and z are swapped: df/dx = df/dy = df/dq = z, and df/dz = q", graph_q_and_z_swapped),
])
def check_graph_backward(add_mul_graph, rng):
    """The gradients df/dx, df/dy, df/dz by the chain rule, against torch autograd."""
    for x, y, z, where in _graph_points(rng):
        result = add_mul_graph(x, y, z)
        expected = reference_graph(x, y, z)
        for key in ("dfdx", "dfdy", "dfdz"):
            expect_close(f"add_mul_graph(x, y, z)['{key}']", _key(result, key, "add_mul_graph", GRAPH_KEYS),
                         expected[key], inputs=where, atol=1e-12, rtol=1e-10)


# === 2. gates and the sigmoid neuron ===========================================================================

@cached_reference
def reference_gate(gate, a, b, dout):
    a_t, b_t = _t(a, True), _t(b, True)
    out = {"add": lambda: a_t + b_t, "mul": lambda: a_t * b_t, "max": lambda: torch.maximum(a_t, b_t)}[gate]()
    return torch.autograd.grad(out, (a_t, b_t), _t(dout))


def gate_mul_not_swapped(gate, a, b, dout):
    a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
    if gate == "add":
        return dout.copy(), dout.copy()
    if gate == "mul":
        return a * dout, b * dout
    share = np.where(a == b, 0.5, 1.0)
    return dout * (a >= b) * share, dout * (b >= a) * share


def gate_max_to_smaller(gate, a, b, dout):
    a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
    if gate == "add":
        return dout.copy(), dout.copy()
    if gate == "mul":
        return b * dout, a * dout
    share = np.where(a == b, 0.5, 1.0)
    return dout * (a <= b) * share, dout * (b <= a) * share


def gate_add_halves(gate, a, b, dout):
    a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
    if gate == "add":
        return dout / 2, dout / 2
    if gate == "mul":
        return b * dout, a * dout
    share = np.where(a == b, 0.5, 1.0)
    return dout * (a >= b) * share, dout * (b >= a) * share


def gate_max_to_both(gate, a, b, dout):
    a, b, dout = np.asarray(a, float), np.asarray(b, float), np.asarray(dout, float)
    if gate == "add":
        return dout.copy(), dout.copy()
    if gate == "mul":
        return b * dout, a * dout
    return dout.copy(), dout.copy()


@check("gate_backward", by_hand=True, mistakes=[
    Mistake("the multiply gate gives each input its own value times dout; it must give the *other* input's value "
            "(d(ab)/da = b)", gate_mul_not_swapped),
    Mistake("the max gate routes the gradient to the smaller input; it goes to the larger one (the one that won)",
            gate_max_to_smaller),
    Mistake("the add gate splits dout in halves; it passes the whole dout to both inputs (d(a+b)/da = 1)",
            gate_add_halves),
    Mistake("the max gate passes dout to both inputs; only the larger input gets it", gate_max_to_both),
])
def check_gate_backward(gate_backward, rng):
    """(da, db) of the add, multiply and max gates for scalars and arrays, ties of max included."""
    for gate in ("add", "mul", "max"):
        for shape in [(), (6,), (3, 4)]:
            a, b, dout = (rng.normal(size=shape) for _ in range(3))
            if shape == ():
                a, b, dout = float(a), float(b), float(dout)
            _compare_gate(gate_backward, gate, a, b, dout)
    a = rng.normal(size=5)
    b = a.copy()
    b[[1, 3]] += 1.0
    _compare_gate(gate_backward, "max", a, b, rng.normal(size=5))  # three ties: each input gets half


def _compare_gate(gate_backward, gate, a, b, dout):
    result = gate_backward(gate, a, b, dout)
    expected = reference_gate(gate, a, b, dout)
    where = f"gate = {gate!r}, " + describe_inputs(a=np.asarray(a), b=np.asarray(b))
    for i, name in enumerate(("da", "db")):
        expect_close(f"gate_backward(...)[{i}] ({name})", _item(result, i, 2, "gate_backward"), expected[i],
                     inputs=where, atol=1e-12, rtol=1e-10)


@cached_reference
def reference_sigmoid_neuron(w, x):
    w_t, x_t = _t(w, True), _t(x, True)
    out = torch.sigmoid(torch.dot(w_t[:-1], x_t) + w_t[-1])
    dw, dx = torch.autograd.grad(out, (w_t, x_t))
    return out, dw, dx


def neuron_no_sigmoid_gradient(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    out = 1 / (1 + np.exp(-(w[:-1] @ x + w[-1])))
    dz = 1.0
    return out, np.append(x * dz, dz), w[:-1] * dz


def neuron_sigmoid_gradient_of_z(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    z = w[:-1] @ x + w[-1]
    out = 1 / (1 + np.exp(-z))
    dz = z * (1 - z)
    return out, np.append(x * dz, dz), w[:-1] * dz


def neuron_w_and_x_swapped(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    out = 1 / (1 + np.exp(-(w[:-1] @ x + w[-1])))
    dz = out * (1 - out)
    return out, np.append(w[:-1] * dz, dz), x * dz


def neuron_no_bias_gradient(w, x):
    w, x = np.asarray(w, float), np.asarray(x, float)
    out = 1 / (1 + np.exp(-(w[:-1] @ x + w[-1])))
    dz = out * (1 - out)
    return out, x * dz, w[:-1] * dz


@check("sigmoid_neuron", by_hand=True, mistakes=[
    Mistake("the sigmoid gate's local gradient sigma(z)(1 - sigma(z)) is missing: the gradient flows through it "
            "as if it were 1", neuron_no_sigmoid_gradient),
    Mistake("the sigmoid's local gradient is computed as z(1 - z); the formula s(1 - s) needs the *output* "
            "s = sigma(z)", neuron_sigmoid_gradient_of_z),
    Mistake("dw and dx are swapped at the multiply gates: dw_i = x_i * dz and dx_i = w_i * dz",
            neuron_w_and_x_swapped),
    Mistake("dw has no entry for the bias w_d (its gradient is dz): dw must have the shape of w",
            neuron_no_bias_gradient),
])
def check_sigmoid_neuron(sigmoid_neuron, rng):
    """out = sigma(w_0 x_0 + ... + w_{d-1} x_{d-1} + w_d) and its gradients dw, dx, against torch autograd."""
    cases = [(np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0]))]          # the lecture's neuron
    for d in (1, 3, 10):
        cases.append((rng.normal(size=d + 1), rng.normal(size=d)))
    w = rng.normal(size=4)
    cases.append((8 * w, np.sign(w[:3]) * 2.0))                              # saturated: z around +20
    cases.append((-8 * w, np.sign(w[:3]) * 2.0))                             # z around -20
    for w, x in cases:
        result = sigmoid_neuron(w, x)
        expected = reference_sigmoid_neuron(w, x)
        where = describe_inputs(w=w, x=x)
        for i, name in enumerate(("out", "dw", "dx")):
            expect_close(f"sigmoid_neuron(w, x)[{i}] ({name})", _item(result, i, 3, "sigmoid_neuron"), expected[i],
                         inputs=where, atol=1e-12, rtol=1e-9)


# === 3. activations ============================================================================================

@cached_reference
def reference_activation(z, kind, alpha=None):
    """(f(z), f'(z)) by torch; f' by autograd (the left derivative at a kink, as PyTorch's autograd gives it)."""
    z_t = _t(z, True)
    if kind == "step":
        return (z_t >= 0).to(torch.float64), torch.zeros_like(z_t)
    functions = {
        "linear": lambda t: t * 1.0,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.01 if alpha is None else alpha),
        "elu": lambda t: F.elu(t, 1.0 if alpha is None else alpha),
        "softplus": F.softplus,
    }
    out = functions[kind](z_t)
    (grad,) = torch.autograd.grad(out.sum(), z_t)
    return out, grad


def standing_in_activation_forward(z, kind, alpha=None):
    """activation_forward as the notebook specifies it (stands in for the student's in later checks)."""
    return reference_activation(z, kind, alpha)[0].detach().numpy()


def standing_in_activation_derivative(z, kind, alpha=None):
    """activation_derivative as the notebook specifies it (stands in for the student's in later checks)."""
    return reference_activation(z, kind, alpha)[1].numpy()


EDGE = np.array([-1000.0, -50.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 50.0, 1000.0])


def _activation_cases(rng):
    """(z, kind, alpha): every kind on several shapes with exact zeros, the edge values, and several alphas."""
    alphas = {"leaky_relu": (None, 0.2, 0.05), "elu": (None, 0.5, 2.0)}
    for kind in KINDS:
        for alpha in alphas.get(kind, (None,)):
            for shape in [(7,), (3, 4), (2, 2, 3)]:
                z = 3 * rng.normal(size=shape)
                z.flat[0] = 0.0
                yield z, kind, alpha
            yield EDGE.copy(), kind, alpha


def _call_activation(function, z, kind, alpha):
    return function(z, kind) if alpha is None else function(z, kind, alpha)


def _activation_where(z, kind, alpha):
    extra = "" if alpha is None else f", alpha = {alpha!r}"
    shape = "the edge values (0, +-1e-3, +-1, +-50, +-1000)" if z.shape == EDGE.shape and \
        np.array_equal(z, EDGE) else f"z of shape {z.shape} (with a 0)"
    return f"kind = {kind!r}{extra}, {shape}"


def forward_step_zero_at_zero(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    scale = 1.0 if alpha is None else alpha
    if kind == "linear":
        return z.copy()
    if kind == "step":
        return (z > 0).astype(float)
    if kind == "sigmoid":
        return np.exp(-np.logaddexp(0, -z))
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, leaky * z)
    if kind == "elu":
        return np.where(z > 0, z, scale * np.expm1(np.minimum(z, 0)))
    return np.logaddexp(0, z)


def forward_leaky_ignores_alpha(z, kind, alpha=None):
    z = np.asarray(z, float)
    scale = 1.0 if alpha is None else alpha
    if kind == "linear":
        return z.copy()
    if kind == "step":
        return (z >= 0).astype(float)
    if kind == "sigmoid":
        return np.exp(-np.logaddexp(0, -z))
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if kind == "elu":
        return np.where(z > 0, z, scale * np.expm1(np.minimum(z, 0)))
    return np.logaddexp(0, z)


def forward_elu_without_minus_one(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    scale = 1.0 if alpha is None else alpha
    if kind == "linear":
        return z.copy()
    if kind == "step":
        return (z >= 0).astype(float)
    if kind == "sigmoid":
        return np.exp(-np.logaddexp(0, -z))
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, leaky * z)
    if kind == "elu":
        return np.where(z > 0, z, scale * np.exp(np.minimum(z, 0)))
    return np.logaddexp(0, z)


def forward_softplus_overflows(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    scale = 1.0 if alpha is None else alpha
    if kind == "linear":
        return z.copy()
    if kind == "step":
        return (z >= 0).astype(float)
    if kind == "sigmoid":
        return np.exp(-np.logaddexp(0, -z))
    if kind == "tanh":
        return np.tanh(z)
    if kind == "relu":
        return np.maximum(z, 0)
    if kind == "leaky_relu":
        return np.where(z > 0, z, leaky * z)
    if kind == "elu":
        return np.where(z > 0, z, scale * np.expm1(np.minimum(z, 0)))
    with np.errstate(over="ignore"):
        return np.log(1 + np.exp(z))


@check("activation_forward", by_hand=True, mistakes=[
    Mistake("the binary step is 0 at z = 0; the lecture's step is 1 for z >= 0", forward_step_zero_at_zero),
    Mistake("leaky ReLU ignores alpha and always uses the slope 0.01", forward_leaky_ignores_alpha),
    Mistake("ELU is alpha * e^z for z <= 0; it is alpha * (e^z - 1), so that it is continuous at 0",
            forward_elu_without_minus_one),
    Mistake("softplus computed as log(1 + exp(z)) overflows to inf for large z; use np.logaddexp(0, z) or "
            "max(z, 0) + log1p(exp(-|z|))", forward_softplus_overflows),
])
def check_activation_forward(activation_forward, rng):
    """f(z) of the eight activations against torch (step, sigmoid, tanh, relu, F.leaky_relu, F.elu, F.softplus)."""
    for z, kind, alpha in _activation_cases(rng):
        got = _call_activation(activation_forward, z, kind, alpha)
        expected, _ = reference_activation(z, kind, alpha)
        expect_close("activation_forward(z, kind, alpha)", got, expected, inputs=_activation_where(z, kind, alpha),
                     atol=1e-8, rtol=1e-7)


def derivative_formula_at_z(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    scale = 1.0 if alpha is None else alpha
    if kind == "linear":
        return np.ones_like(z)
    if kind == "step":
        return np.zeros_like(z)
    if kind == "sigmoid":
        return z * (1 - z)
    if kind == "tanh":
        return 1 - z ** 2
    if kind == "relu":
        return (z > 0).astype(float)
    if kind == "leaky_relu":
        return np.where(z > 0, 1.0, leaky)
    if kind == "elu":
        return np.where(z > 0, 1.0, scale * np.exp(np.minimum(z, 0)))
    return np.exp(-np.logaddexp(0, -z))


def derivative_relu_one_at_zero(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    scale = 1.0 if alpha is None else alpha
    s = np.exp(-np.logaddexp(0, -z))
    if kind == "linear":
        return np.ones_like(z)
    if kind == "step":
        return np.zeros_like(z)
    if kind == "sigmoid":
        return s * (1 - s)
    if kind == "tanh":
        return 1 - np.tanh(z) ** 2
    if kind == "relu":
        return (z >= 0).astype(float)
    if kind == "leaky_relu":
        return np.where(z >= 0, 1.0, leaky)
    if kind == "elu":
        return np.where(z >= 0, 1.0, scale * np.exp(np.minimum(z, 0)))
    return s


def derivative_leaky_ignores_alpha(z, kind, alpha=None):
    z = np.asarray(z, float)
    scale = 1.0 if alpha is None else alpha
    s = np.exp(-np.logaddexp(0, -z))
    if kind == "linear":
        return np.ones_like(z)
    if kind == "step":
        return np.zeros_like(z)
    if kind == "sigmoid":
        return s * (1 - s)
    if kind == "tanh":
        return 1 - np.tanh(z) ** 2
    if kind == "relu":
        return (z > 0).astype(float)
    if kind == "leaky_relu":
        return np.where(z > 0, 1.0, 0.01)
    if kind == "elu":
        return np.where(z > 0, 1.0, scale * np.exp(np.minimum(z, 0)))
    return s


def derivative_elu_without_alpha(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    s = np.exp(-np.logaddexp(0, -z))
    if kind == "linear":
        return np.ones_like(z)
    if kind == "step":
        return np.zeros_like(z)
    if kind == "sigmoid":
        return s * (1 - s)
    if kind == "tanh":
        return 1 - np.tanh(z) ** 2
    if kind == "relu":
        return (z > 0).astype(float)
    if kind == "leaky_relu":
        return np.where(z > 0, 1.0, leaky)
    if kind == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))
    return s


def derivative_softplus_sign(z, kind, alpha=None):
    z = np.asarray(z, float)
    leaky = 0.01 if alpha is None else alpha
    scale = 1.0 if alpha is None else alpha
    s = np.exp(-np.logaddexp(0, -z))
    if kind == "linear":
        return np.ones_like(z)
    if kind == "step":
        return np.zeros_like(z)
    if kind == "sigmoid":
        return s * (1 - s)
    if kind == "tanh":
        return 1 - np.tanh(z) ** 2
    if kind == "relu":
        return (z > 0).astype(float)
    if kind == "leaky_relu":
        return np.where(z > 0, 1.0, leaky)
    if kind == "elu":
        return np.where(z > 0, 1.0, scale * np.exp(np.minimum(z, 0)))
    return np.exp(-np.logaddexp(0, z))


@check("activation_derivative", by_hand=True, stand_ins={"activation_forward": standing_in_activation_forward},
       mistakes=[
    Mistake("the derivative formulas written with the output (sigma' = s(1 - s), tanh' = 1 - t^2) are evaluated "
            "at z instead of at the output s = sigma(z) or t = tanh(z)", derivative_formula_at_z),
    Mistake("at the kink z = 0 the derivative is taken from the right (1); this course, like PyTorch, takes the "
            "left one: ReLU'(0) = 0, leaky ReLU'(0) = alpha, ELU'(0) = alpha", derivative_relu_one_at_zero),
    Mistake("leaky ReLU's derivative ignores alpha: for z < 0 it is alpha", derivative_leaky_ignores_alpha),
    Mistake("ELU's derivative for z < 0 is written e^z; it is alpha * e^z", derivative_elu_without_alpha),
    Mistake("softplus' derivative is written 1 / (1 + e^z); it is the sigmoid 1 / (1 + e^-z)",
            derivative_softplus_sign),
])
def check_activation_derivative(activation_derivative, rng):
    """f'(z) of the eight activations against torch autograd (the step's derivative is 0 everywhere)."""
    for z, kind, alpha in _activation_cases(rng):
        got = _call_activation(activation_derivative, z, kind, alpha)
        _, expected = reference_activation(z, kind, alpha)
        expect_close("activation_derivative(z, kind, alpha)", got, expected,
                     inputs=_activation_where(z, kind, alpha), atol=1e-8, rtol=1e-7)


# === 4. the fully connected layer =============================================================================

def _affine_cases(rng):
    """(x, W, b): a square case first (N = D = M), then others, a single example and a single unit."""
    for n, d, m in [(4, 4, 4), (2, 3, 5), (1, 7, 2), (10, 6, 4), (3, 1, 1)]:
        yield rng.normal(size=(n, d)), rng.normal(size=(m, d)), rng.normal(size=m)


@cached_reference
def reference_affine(x, W, b, dout=None):
    x_t, W_t, b_t = _t(x, True), _t(W, True), _t(b, True)
    out = F.linear(x_t, W_t, b_t)
    if dout is None:
        return out
    return torch.autograd.grad(out, (x_t, W_t, b_t), _t(dout))


def affine_forward_no_transpose(x, W, b):
    x, W, b = np.asarray(x, float), np.asarray(W, float), np.asarray(b, float)
    return x @ W + b, (x, W, b)


def affine_forward_no_bias(x, W, b):
    x, W, b = np.asarray(x, float), np.asarray(W, float), np.asarray(b, float)
    return x @ W.T, (x, W, b)


def affine_forward_caches_output(x, W, b):
    x, W, b = np.asarray(x, float), np.asarray(W, float), np.asarray(b, float)
    out = x @ W.T + b
    return out, (out, W, b)


@check("affine_forward", by_hand=True, mistakes=[
    Mistake("out = x @ W uses the (n_in, n_out) layout of lecture 002's code; here W has shape (n_out, n_in) as "
            "in lecture 001 and PyTorch, so out = x @ W.T + b", affine_forward_no_transpose),
    Mistake("the bias b is not added", affine_forward_no_bias),
    Mistake("the cache holds the output; it must be (x, W, b), what the backward pass needs",
            affine_forward_caches_output),
])
def check_affine_forward(affine_forward, rng):
    """out = x W^T + b against F.linear, and the cache (x, W, b)."""
    for x, W, b in _affine_cases(rng):
        result = affine_forward(x, W, b)
        where = describe_inputs(x=x, W=W, b=b)
        expect_close("affine_forward(x, W, b)[0] (out)", _item(result, 0, 2, "affine_forward", "tuple (out, cache)"),
                     reference_affine(x, W, b), inputs=where, atol=1e-12, rtol=1e-10)
        cache = result[1]
        expect_true(isinstance(cache, (tuple, list)) and len(cache) == 3,
                    f"affine_forward(x, W, b)[1] (cache) should be the tuple (x, W, b) for {where}")
        for name, got, given in zip(("x", "W", "b"), cache, (x, W, b)):
            expect_close(f"affine_forward(x, W, b)[1] (the {name} in the cache)", got, given, inputs=where,
                         atol=0, rtol=0)


def _affine_backward_compare(affine_backward, index: int, name: str, rng):
    for x, W, b in _affine_cases(rng):
        dout = rng.normal(size=(x.shape[0], W.shape[0]))
        result = affine_backward(dout, (x, W, b))
        expected = reference_affine(x, W, b, dout)
        expect_close(f"affine_backward(dout, cache)[{index}] ({name})",
                     _item(result, index, 3, "affine_backward", "tuple (dx, dW, db)"), expected[index],
                     inputs=describe_inputs(x=x, W=W, b=b, dout=dout), atol=1e-12, rtol=1e-9)


def affine_dx_transposed_weights(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


def affine_dx_over_batch(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W / len(x), dout.T @ x, dout.sum(axis=0)


def affine_outputs_in_wrong_order(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout.T @ x, dout @ W, dout.sum(axis=0)


@check("affine_backward_dx", functions=("affine_backward",), by_hand=True, mistakes=[
    Mistake("dx = dout @ W.T: with W of shape (n_out, n_in) it is dx = dout @ W (the lecture's W^T delta, with "
            "examples in rows)", affine_dx_transposed_weights),
    Mistake("dx is divided by the batch size; a layer passes gradients on unchanged, the 1/N belongs to the loss "
            "alone", affine_dx_over_batch),
    Mistake("the outputs are in the wrong order: return (dx, dW, db)", affine_outputs_in_wrong_order),
])
def check_affine_backward_dx(affine_backward, rng):
    """dx of the fully connected layer against torch autograd through F.linear."""
    _affine_backward_compare(affine_backward, 0, "dx", rng)


def affine_dw_transposed(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W, x.T @ dout, dout.sum(axis=0)


def affine_dw_over_batch(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W, dout.T @ x / len(x), dout.sum(axis=0)


def affine_dw_last_example_only(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    dW = np.zeros_like(W)
    for i in range(len(x)):
        dW = np.outer(dout[i], x[i])
    return dout @ W, dW, dout.sum(axis=0)


@check("affine_backward_dW", functions=("affine_backward",), by_hand=True, mistakes=[
    Mistake("dW = x.T @ dout is the transpose of the weight gradient; with W of shape (n_out, n_in) it is "
            "dW = dout.T @ x (the lecture's delta a^T, summed over the batch)", affine_dw_transposed),
    Mistake("dW is divided by the batch size; the 1/N is already in dout (from the loss), a layer adds none",
            affine_dw_over_batch),
    Mistake("in the loop over examples dW is assigned (=) instead of accumulated (+=): only the last example "
            "counts", affine_dw_last_example_only),
])
def check_affine_backward_dW(affine_backward, rng):
    """dW of the fully connected layer against torch autograd through F.linear."""
    _affine_backward_compare(affine_backward, 1, "dW", rng)


def affine_db_wrong_axis(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W, dout.T @ x, dout.sum(axis=1)


def affine_db_mean(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W, dout.T @ x, dout.mean(axis=0)


def affine_db_not_summed(dout, cache):
    x, W, _ = (np.asarray(v, float) for v in cache)
    dout = np.asarray(dout, float)
    return dout @ W, dout.T @ x, dout.copy()


@check("affine_backward_db", functions=("affine_backward",), by_hand=True, mistakes=[
    Mistake("db is summed over the wrong axis (axis=1, the units); sum over the examples, axis=0, to get shape "
            "(n_out,)", affine_db_wrong_axis),
    Mistake("db is the mean over the batch; it is the sum (the 1/N is already in dout)", affine_db_mean),
    Mistake("db is dout itself, one row per example; b is shared by all examples, so sum the rows (axis=0)",
            affine_db_not_summed),
])
def check_affine_backward_db(affine_backward, rng):
    """db of the fully connected layer against torch autograd through F.linear."""
    _affine_backward_compare(affine_backward, 2, "db", rng)


# === 5. softmax and the losses =================================================================================

def _softmax_cases(rng):
    yield 2 * rng.normal(size=(4, 3))
    yield rng.normal(size=5)
    yield 3 * rng.normal(size=(2, 10))
    yield 1000 + rng.normal(size=(3, 5))                                          # scores around 1000
    yield np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0]])        # rows far apart
    yield np.array([3.2, 5.1, -1.7])                                              # cat, car, frog
    yield np.zeros((2, 4))


def softmax_without_shift(z):
    z = np.asarray(z, float)
    with np.errstate(all="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def softmax_global_shift(z):
    z = np.asarray(z, float)
    with np.errstate(all="ignore"):
        e = np.exp(z - z.max())
        return e / e.sum(axis=-1, keepdims=True)


def softmax_wrong_axis(z):
    z = np.asarray(z, float)
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@check("softmax", by_hand=True, mistakes=[
    Mistake("no max shift: exp(1000) overflows to inf and inf / inf = nan; subtract each row's maximum first",
            softmax_without_shift),
    Mistake("the shift subtracts the maximum of the whole batch instead of each row's own maximum: a row far "
            "below it underflows to 0 / 0 = nan", softmax_global_shift),
    Mistake("the softmax is taken over axis 0 (the examples); each row (axis=-1) must sum to 1",
            softmax_wrong_axis),
])
def check_softmax(softmax, rng):
    """softmax over the last axis against torch.softmax, for scores around 0 and around +-1000."""
    for z in _softmax_cases(rng):
        expect_close("softmax(z)", softmax(z), torch.softmax(_t(z), dim=-1), inputs=describe_inputs(z=z),
                     atol=1e-12, rtol=1e-8)


@cached_reference
def reference_softmax_ce(scores, y):
    s_t = _t(scores, True)
    loss = F.cross_entropy(s_t, torch.as_tensor(np.asarray(y), dtype=torch.long))
    (grad,) = torch.autograd.grad(loss, s_t)
    return loss, grad


def _ce_cases(rng):
    yield np.array([[3.2, 5.1, -1.7]]), np.array([0])                               # the lecture's cat
    yield rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    yield 2 * rng.normal(size=(8, 10)), rng.integers(0, 10, size=8)
    yield 1000 + rng.normal(size=(4, 6)), rng.integers(0, 6, size=4)               # scores around 1000
    yield 30 * rng.normal(size=(3, 4)), rng.integers(0, 4, size=3)                 # confident, often wrong


def ce_log10(scores, y):
    s, y = np.asarray(scores, float), np.asarray(y)
    n = len(s)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log10(p[np.arange(n), y]))
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d / n


def ce_gradient_without_mean(scores, y):
    s, y = np.asarray(scores, float), np.asarray(y)
    n = len(s)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d


def ce_loss_summed(scores, y):
    s, y = np.asarray(scores, float), np.asarray(y)
    n = len(s)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(p[np.arange(n), y]))
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d / n


def ce_without_shift(scores, y):
    s, y = np.asarray(scores, float), np.asarray(y)
    n = len(s)
    with np.errstate(all="ignore"):
        p = np.exp(s)
        p = p / p.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(n), y]))
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d / n


def ce_gradient_without_onehot(scores, y):
    s, y = np.asarray(scores, float), np.asarray(y)
    n = len(s)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    return loss, p / n


@check("softmax_cross_entropy", by_hand=True, mistakes=[
    Mistake("the loss uses log base 10: that is the lecture's -log(0.13) = 0.89 for the cat; PyTorch and this "
            "course use the natural log, -ln(0.13) = 2.04", ce_log10),
    Mistake("the gradient misses the 1/N: the loss is a mean over the batch, so dscores = (p - onehot(y)) / N",
            ce_gradient_without_mean),
    Mistake("the loss is summed over the batch; it is the mean (1/N) sum_i L_i", ce_loss_summed),
    Mistake("the softmax has no max shift: scores around 1000 overflow (exp(1000) = inf) and give nan",
            ce_without_shift),
    Mistake("the gradient is p / N; subtract 1 at the true class: dscores = (p - onehot(y)) / N",
            ce_gradient_without_onehot),
])
def check_softmax_cross_entropy(softmax_cross_entropy, rng):
    """The mean softmax cross-entropy and its gradient against F.cross_entropy and autograd."""
    for scores, y in _ce_cases(rng):
        result = softmax_cross_entropy(scores, y)
        loss, grad = reference_softmax_ce(scores, y)
        where = describe_inputs(scores=scores, y=y)
        expect_close("softmax_cross_entropy(scores, y)[0] (loss)",
                     _item(result, 0, 2, "softmax_cross_entropy", "tuple (loss, dscores)"), loss, inputs=where,
                     atol=1e-10, rtol=1e-9)
        expect_close("softmax_cross_entropy(scores, y)[1] (dscores)", result[1], grad, inputs=where,
                     atol=1e-12, rtol=1e-8)


@cached_reference
def reference_mse(a, y):
    a_t = _t(a, True)
    loss = F.mse_loss(a_t, _t(y), reduction="sum") / a_t.shape[0]
    (grad,) = torch.autograd.grad(loss, a_t)
    return loss, grad


def _mse_cases(rng):
    yield rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    yield rng.normal(size=(1, 5)), rng.normal(size=(1, 5))
    yield rng.normal(size=(10, 1)), rng.normal(size=(10, 1))
    yield rng.normal(size=6), rng.normal(size=6)
    a = rng.normal(size=(3, 2))
    yield a, a.copy()


def mse_without_factor_two(a, y):
    a, y = np.asarray(a, float), np.asarray(y, float)
    n = a.shape[0]
    return np.sum((a - y) ** 2) / n, (a - y) / n


def mse_mean_over_all_entries(a, y):
    a, y = np.asarray(a, float), np.asarray(y, float)
    return np.mean((a - y) ** 2), 2 * (a - y) / a.size


def mse_gradient_without_mean(a, y):
    a, y = np.asarray(a, float), np.asarray(y, float)
    n = a.shape[0]
    return np.sum((a - y) ** 2) / n, 2 * (a - y)


def mse_gradient_sign(a, y):
    a, y = np.asarray(a, float), np.asarray(y, float)
    n = a.shape[0]
    return np.sum((a - y) ** 2) / n, 2 * (y - a) / n


@check("mse_loss", by_hand=True, mistakes=[
    Mistake("the gradient misses the factor 2: d/da (a - y)^2 = 2 (a - y); the lecture's delta^L = (a - y) f'(z) "
            "belongs to the cost with a 1/2 in front", mse_without_factor_two),
    Mistake("the loss is the mean over all N*K entries (PyTorch's default reduction); the lecture's cost sums over "
            "the K outputs and averages over the N examples", mse_mean_over_all_entries),
    Mistake("the gradient misses the 1/N of the mean over the batch", mse_gradient_without_mean),
    Mistake("the gradient has the wrong sign: it is 2 (a - y) / N, pointing from y towards a", mse_gradient_sign),
])
def check_mse_loss(mse_loss, rng):
    """C = (1/N) sum_n ||a_n - y_n||^2 and dC/da, against F.mse_loss(reduction='sum') / N and autograd."""
    for a, y in _mse_cases(rng):
        result = mse_loss(a, y)
        loss, grad = reference_mse(a, y)
        where = describe_inputs(a=a, y=y)
        expect_close("mse_loss(a, y)[0] (loss)", _item(result, 0, 2, "mse_loss", "tuple (loss, da)"), loss,
                     inputs=where, atol=1e-12, rtol=1e-9)
        expect_close("mse_loss(a, y)[1] (da)", result[1], grad, inputs=where, atol=1e-12, rtol=1e-9)


@cached_reference
def reference_bce(z, y):
    # with logits: exact for |z| in the hundreds, where sigmoid(z) rounds to 0 or 1 (F.binary_cross_entropy of the
    # rounded sigmoid would clamp its log at -100)
    z_t = _t(z, True)
    loss = F.binary_cross_entropy_with_logits(z_t, _t(y), reduction="sum") / z_t.shape[0]
    (grad,) = torch.autograd.grad(loss, z_t)
    return loss, grad


def _bce_cases(rng):
    yield 3 * rng.normal(size=(5, 3)), rng.integers(0, 2, size=(5, 3)).astype(float)
    yield 3 * rng.normal(size=8), rng.integers(0, 2, size=8).astype(float)
    yield 3 * rng.normal(size=(1, 4)), rng.integers(0, 2, size=(1, 4)).astype(float)
    yield 3 * rng.normal(size=(4, 2)), rng.uniform(size=(4, 2))                  # soft targets in [0, 1]
    # confident logits of magnitude 100 to 1000, right and wrong: the stable formula the notebook asks for
    large = rng.choice([-1.0, 1.0], size=(4, 3)) * rng.uniform(100, 1000, size=(4, 3))
    yield large, rng.integers(0, 2, size=(4, 3)).astype(float)


def bce_mse_style_delta(z, y):
    z, y = np.asarray(z, float), np.asarray(y, float)
    n = z.shape[0]
    a = 1 / (1 + np.exp(-z))
    loss = np.sum(np.logaddexp(0, z) - y * z) / n
    return loss, (a - y) * a * (1 - a) / n


def bce_gradient_without_mean(z, y):
    z, y = np.asarray(z, float), np.asarray(y, float)
    n = z.shape[0]
    a = 1 / (1 + np.exp(-z))
    return np.sum(np.logaddexp(0, z) - y * z) / n, a - y


def bce_mean_over_all_entries(z, y):
    z, y = np.asarray(z, float), np.asarray(y, float)
    a = 1 / (1 + np.exp(-z))
    return np.mean(np.logaddexp(0, z) - y * z), (a - y) / z.size


def bce_log10(z, y):
    z, y = np.asarray(z, float), np.asarray(y, float)
    n = z.shape[0]
    a = 1 / (1 + np.exp(-z))
    loss = -np.sum(y * np.log10(a) + (1 - y) * np.log10(1 - a)) / n
    return loss, (a - y) / n


def bce_unstable(z, y):
    z, y = np.asarray(z, float), np.asarray(y, float)
    n = z.shape[0]
    with np.errstate(all="ignore"):
        a = 1 / (1 + np.exp(-z))
        loss = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / n
    return loss, (a - y) / n


@check("sigmoid_binary_cross_entropy", by_hand=True, stand_ins={"activation_forward": standing_in_activation_forward},
       mistakes=[
    Mistake("the gradient carries an extra sigma'(z): that is the MSE rule (6); for cross-entropy with a sigmoid "
            "the sigma'(z) cancels and delta^L = (a - y) / N (rule (7))", bce_mse_style_delta),
    Mistake("the gradient misses the 1/N of the mean over the batch", bce_gradient_without_mean),
    Mistake("the loss is the mean over all N*K entries (PyTorch's default reduction); the lecture's cost sums over "
            "the K outputs and averages over the N examples", bce_mean_over_all_entries),
    Mistake("the loss uses log base 10; use the natural log", bce_log10),
    Mistake("the loss is computed as -[y log(sigma(z)) + (1 - y) log(1 - sigma(z))]: for |z| in the hundreds "
            "sigma(z) rounds to exactly 0 or 1 and the log gives inf; use the stable form "
            "log(1 + e^z) - y z = np.logaddexp(0, z) - y * z", bce_unstable),
])
def check_sigmoid_binary_cross_entropy(sigmoid_binary_cross_entropy, rng):
    """Binary cross-entropy of sigmoid(z) and its gradient dz, against F.binary_cross_entropy_with_logits and
    autograd, for logits of magnitude 100 to 1000 too."""
    for z, y in _bce_cases(rng):
        result = sigmoid_binary_cross_entropy(z, y)
        loss, grad = reference_bce(z, y)
        where = describe_inputs(z=z, y=y)
        expect_close("sigmoid_binary_cross_entropy(z, y)[0] (loss)",
                     _item(result, 0, 2, "sigmoid_binary_cross_entropy", "tuple (loss, dz)"), loss, inputs=where,
                     atol=1e-12, rtol=1e-9)
        expect_close("sigmoid_binary_cross_entropy(z, y)[1] (dz)", result[1], grad, inputs=where,
                     atol=1e-12, rtol=1e-9)


# === 6. the multilayer perceptron ==============================================================================

TORCH_ACTIVATIONS = {
    "linear": lambda t: t * 1.0, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
    "leaky_relu": F.leaky_relu, "elu": F.elu, "softplus": F.softplus,
}


@cached_reference
def reference_mlp(params, X, y, activation="relu", loss="softmax", reg=0.0):
    """(loss, {name: gradient}) by torch autograd on the same weights."""
    names = sorted(params, key=lambda k: (int(k[1:]), k[0]))
    P = {k: _t(params[k], True) for k in names}
    depth = len(params) // 2
    f = TORCH_ACTIVATIONS[activation]
    a = _t(X)
    for layer in range(1, depth):
        a = f(F.linear(a, P[f"W{layer}"], P[f"b{layer}"]))
    z = F.linear(a, P[f"W{depth}"], P[f"b{depth}"])
    n = X.shape[0]
    if loss == "softmax":
        data = F.cross_entropy(z, torch.as_tensor(np.asarray(y), dtype=torch.long))
    elif loss == "bce":
        data = F.binary_cross_entropy(torch.sigmoid(z), _t(y), reduction="sum") / n
    else:
        data = F.mse_loss(f(z), _t(y), reduction="sum") / n
    total = data + reg / 2 * sum((P[f"W{layer}"] ** 2).sum() for layer in range(1, depth + 1))
    grads = torch.autograd.grad(total, [P[k] for k in names])
    return total, dict(zip(names, grads))


def init_mlp(sizes, rng, scale=0.5) -> dict:
    params = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{layer}"] = scale * rng.normal(size=(n_out, n_in))
        params[f"b{layer}"] = scale * rng.normal(size=n_out)
    return params


# (layer sizes, activation, loss, reg, batch size): a square net first, so a transposed dW has the right shape
MLP_CASES = [
    ([4, 4, 4], "tanh", "softmax", 0.0, 4),
    ([6, 5, 3], "relu", "softmax", 0.0, 7),
    ([5, 3], "linear", "softmax", 0.1, 6),                   # depth 1: softmax regression
    ([8, 6, 5, 4], "tanh", "softmax", 0.05, 5),              # depth 3
    ([4, 7, 3], "sigmoid", "bce", 0.0, 6),
    ([3, 5, 4, 2], "elu", "mse", 0.01, 5),
    ([6, 4, 4, 4, 3], "leaky_relu", "softmax", 0.0, 3),      # depth 4
    ([5, 4, 2], "softplus", "mse", 0.0, 4),
    ([4, 6, 3], "sigmoid", "bce", 0.1, 1),                   # a batch of one
    ([5, 6, 4], "relu", "softmax", 0.1, 6),                  # ReLU with regularization
]


def _mlp_cases(rng):
    for sizes, activation, loss, reg, n in MLP_CASES:
        params = init_mlp(sizes, rng)
        X = rng.normal(size=(n, sizes[0]))
        if loss == "softmax":
            y = rng.integers(0, sizes[-1], size=n)
        elif loss == "bce":
            y = rng.integers(0, 2, size=(n, sizes[-1])).astype(float)
        else:
            y = rng.normal(size=(n, sizes[-1]))
        where = f"layer sizes {sizes}, activation = {activation!r}, loss = {loss!r}, reg = {reg}, N = {n}"
        yield params, X, y, activation, loss, reg, where


# The mistakes below each hold a whole MLP (they must be self-contained); they differ in the marked line(s).

def mlp_reg_on_biases(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
        delta /= n
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z) / n
        delta = (1 / (1 + np.exp(-z)) - y) / n
    else:
        data = np.sum((f(z) - y) ** 2) / n
        delta = 2 * (f(z) - y) / n * df(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * params[f"W{layer}"]
        grads[f"b{layer}"] = delta.sum(axis=0) + reg * params[f"b{layer}"]          # the mistake
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    penalty = sum(np.sum(params[f"W{k}"] ** 2) + np.sum(params[f"b{k}"] ** 2) for k in range(1, depth + 1))
    return data + reg / 2 * penalty, grads


def mlp_reg_without_half(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
        delta /= n
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z) / n
        delta = (1 / (1 + np.exp(-z)) - y) / n
    else:
        data = np.sum((f(z) - y) ** 2) / n
        delta = 2 * (f(z) - y) / n * df(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + 2 * reg * params[f"W{layer}"]   # the mistake
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    return data + reg * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


def mlp_output_activated(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z)                                                   # the mistake: f also on the last layer
        acts.append(a)
    s = acts[-1]
    if loss == "softmax":
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
        delta = delta / n * df(zs[-1])
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, s) - y * s) / n
        delta = (1 / (1 + np.exp(-s)) - y) / n * df(zs[-1])
    else:
        data = np.sum((s - y) ** 2) / n
        delta = 2 * (s - y) / n * df(zs[-1])
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * params[f"W{layer}"]
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    return data + reg / 2 * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


def mlp_loss_summed_over_batch(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":                                      # the mistake: sums instead of means, here and below
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.sum(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z)
        delta = 1 / (1 + np.exp(-z)) - y
    else:
        data = np.sum((f(z) - y) ** 2)
        delta = 2 * (f(z) - y) * df(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * params[f"W{layer}"]
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    return data + reg / 2 * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


def _mlp_compare_loss(mlp_loss_and_grads, rng):
    for params, X, y, activation, loss, reg, where in _mlp_cases(rng):
        result = mlp_loss_and_grads(params, X, y, activation, loss, reg)
        expected, _ = reference_mlp(params, X, y, activation, loss, reg)
        expect_close("mlp_loss_and_grads(...)[0] (loss)",
                     _item(result, 0, 2, "mlp_loss_and_grads", "tuple (loss, grads)"), expected, inputs=where,
                     atol=1e-10, rtol=1e-9)


# --- the course's building blocks, standing in for the student's while a check grades what is built from them ---

def standing_in_affine_forward(x, W, b):
    """affine_forward as the notebook specifies it: (out, cache = (x, W, b))."""
    return reference_affine(x, W, b).detach().numpy(), (x, W, b)


def standing_in_affine_backward(dout, cache):
    """affine_backward as the notebook specifies it: (dx, dW, db) from the cache (x, W, b)."""
    x, W, b = cache
    return tuple(g.numpy() for g in reference_affine(x, W, b, dout))


def standing_in_softmax(z):
    return torch.softmax(_t(z), dim=-1).numpy()


def _loss_and_gradient(reference):
    def standing_in(scores, y):
        loss, grad = reference(scores, y)
        return float(loss), grad.numpy()
    standing_in.__name__ = f"standing_in_{reference.__name__}"
    return standing_in


# what an MLP check lends the student's mlp_loss_and_grads: it grades the network, not the layers again
LAYER_STAND_INS = {
    "affine_forward": standing_in_affine_forward, "affine_backward": standing_in_affine_backward,
    "activation_forward": standing_in_activation_forward, "activation_derivative": standing_in_activation_derivative,
    "softmax": standing_in_softmax, "softmax_cross_entropy": _loss_and_gradient(reference_softmax_ce),
    "mse_loss": _loss_and_gradient(reference_mse), "sigmoid_binary_cross_entropy": _loss_and_gradient(reference_bce),
}


def standing_in_mlp_loss_and_grads(params, X, y, activation="relu", loss="softmax", reg=0.0):
    """mlp_loss_and_grads as the notebook specifies it: (loss, {name: gradient})."""
    total, grads = reference_mlp(params, np.asarray(X, dtype=np.float64), y, activation, loss, reg)
    return float(total), {name: grad.numpy() for name, grad in grads.items()}


@check("mlp_loss", functions=("mlp_loss_and_grads",), by_hand=True, stand_ins=LAYER_STAND_INS, mistakes=[
    Mistake("the L2 penalty also includes the biases; only the weights W_l are penalized", mlp_reg_on_biases),
    Mistake("the L2 penalty is reg * sum W^2; it is reg/2 * sum W^2 (so that its gradient is reg * W)",
            mlp_reg_without_half),
    Mistake("the activation f is also applied to the last layer before the softmax / sigmoid: the output layer "
            "gives raw scores z^L", mlp_output_activated),
    Mistake("the loss is summed over the batch; the course's losses are means over the N examples",
            mlp_loss_summed_over_batch),
])
def check_mlp_loss(mlp_loss_and_grads, rng):
    """The loss of an MLP of depth 1 to 4 with several activations, losses and L2 strengths, against torch."""
    _mlp_compare_loss(mlp_loss_and_grads, rng)


def mlp_gradients_without_mean(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1                            # the mistake: no / n
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z) / n
        delta = 1 / (1 + np.exp(-z)) - y
    else:
        data = np.sum((f(z) - y) ** 2) / n
        delta = 2 * (f(z) - y) * df(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * params[f"W{layer}"]
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    return data + reg / 2 * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


def mlp_derivative_at_output(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
        delta /= n
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z) / n
        delta = (1 / (1 + np.exp(-z)) - y) / n
    else:
        data = np.sum((f(z) - y) ** 2) / n
        delta = 2 * (f(z) - y) / n * df(f(z))                  # the mistake: f'(a) instead of f'(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * params[f"W{layer}"]
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(acts[layer - 1])   # the mistake: f'(a) instead of f'(z)
    return data + reg / 2 * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


def mlp_delta_times_fprime(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
        delta = delta / n * df(z)                              # the mistake: rule (6) for cross-entropy
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z) / n
        delta = (1 / (1 + np.exp(-z)) - y) / n * df(z)         # the mistake
    else:
        data = np.sum((f(z) - y) ** 2) / n
        delta = 2 * (f(z) - y) / n * df(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * params[f"W{layer}"]
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    return data + reg / 2 * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


def mlp_weight_gradient_transposed(params, X, y, activation="relu", loss="softmax", reg=0.0):
    fs = {"linear": (lambda z: z, lambda z: np.ones_like(z)),
          "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
          "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
          "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
          "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
          "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
                  lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))),
          "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))}
    f, df = fs[activation]
    depth, n = len(params) // 2, len(X)
    a, zs, acts = np.asarray(X, float), [], [np.asarray(X, float)]
    for layer in range(1, depth + 1):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        a = f(z) if layer < depth else z
        acts.append(a)
    z = zs[-1]
    if loss == "softmax":
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        data = -np.mean(np.log(p[np.arange(n), y]))
        delta = p.copy()
        delta[np.arange(n), y] -= 1
        delta /= n
    elif loss == "bce":
        data = np.sum(np.logaddexp(0, z) - y * z) / n
        delta = (1 / (1 + np.exp(-z)) - y) / n
    else:
        data = np.sum((f(z) - y) ** 2) / n
        delta = 2 * (f(z) - y) / n * df(z)
    grads = {}
    for layer in range(depth, 0, -1):
        grads[f"W{layer}"] = acts[layer - 1].T @ delta + reg * params[f"W{layer}"].T   # the mistake
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * df(zs[layer - 2])
    return data + reg / 2 * sum(np.sum(params[f"W{k}"] ** 2) for k in range(1, depth + 1)), grads


@check("mlp_gradients", functions=("mlp_loss_and_grads",), by_hand=True, stand_ins=LAYER_STAND_INS, mistakes=[
    Mistake("the gradients miss the 1/N: the loss is a mean over the batch, so delta^L carries 1/N",
            mlp_gradients_without_mean),
    Mistake("the activation derivative is evaluated at the layer's output a = f(z) instead of its input z: "
            "use f'(z^l), which the forward pass must keep (for ReLU the two agree, for tanh or sigmoid not)",
            mlp_derivative_at_output),
    Mistake("delta^L for cross-entropy is multiplied by f'(z^L): rule (6) is for MSE; with softmax or sigmoid "
            "cross-entropy delta^L = (a^L - y) / N (rule (7))", mlp_delta_times_fprime),
    Mistake("the weight gradients are transposed: dW^l = (delta^l)^T a^(l-1) has the shape of W^l, (n_l, n_(l-1))",
            mlp_weight_gradient_transposed),
])
def check_mlp_gradients(mlp_loss_and_grads, rng):
    """Every dW_l and db_l of an MLP of depth 1 to 4 against torch autograd on the same weights."""
    for params, X, y, activation, loss, reg, where in _mlp_cases(rng):
        result = mlp_loss_and_grads(params, X, y, activation, loss, reg)
        _, expected = reference_mlp(params, X, y, activation, loss, reg)
        grads = _item(result, 1, 2, "mlp_loss_and_grads", "tuple (loss, grads)")
        for name in sorted(expected, key=lambda k: (int(k[1:]), k[0])):
            expect_close(f"mlp_loss_and_grads(...)[1]['{name}']", _key(grads, name, "mlp_loss_and_grads(...)[1]",
                                                                        sorted(expected)),
                         expected[name], inputs=where, atol=1e-10, rtol=1e-7)


# === 7. the gradient check =====================================================================================

TORCH_TWINS = {
    testfunctions.square_sum: lambda x: torch.sum(x ** 2),
    testfunctions.wave: lambda x: torch.sum(torch.sin(3 * x) * x ** 2),
    testfunctions.log_sum_exp: lambda x: torch.logsumexp(x.reshape(-1), dim=0),
    testfunctions.coupled: lambda x: torch.sum(x.reshape(-1)[:-1] * x.reshape(-1)[1:]) + torch.sum(torch.tanh(x)),
}


def _autograd(f, x) -> np.ndarray:
    x_t = _t(x, True)
    (grad,) = torch.autograd.grad(TORCH_TWINS[f](x_t), x_t)
    return grad.numpy()


def grad_check_forward_difference(f, x, analytic_grad, h=1e-5):
    x = np.array(x, dtype=float)
    numeric = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        numeric[i] = (f(x) - fx) / h
        x[i] = old
    a = np.asarray(analytic_grad, float)
    return float(np.max(np.abs(a - numeric) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))))


def grad_check_over_h(f, x, analytic_grad, h=1e-5):
    x = np.array(x, dtype=float)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        numeric[i] = (plus - minus) / h
    a = np.asarray(analytic_grad, float)
    return float(np.max(np.abs(a - numeric) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))))


def grad_check_mean(f, x, analytic_grad, h=1e-5):
    x = np.array(x, dtype=float)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        numeric[i] = (plus - minus) / (2 * h)
    a = np.asarray(analytic_grad, float)
    return float(np.mean(np.abs(a - numeric) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))))


def grad_check_signed(f, x, analytic_grad, h=1e-5):
    x = np.array(x, dtype=float)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        numeric[i] = (plus - minus) / (2 * h)
    a = np.asarray(analytic_grad, float)
    return float(np.max((a - numeric) / np.maximum(1e-8, np.abs(a) + np.abs(numeric))))


@check("gradient_check", by_hand=True, mistakes=[
    Mistake("the numerical gradient is a forward difference (f(x + h) - f(x)) / h, accurate only to O(h): a "
            "correct gradient then shows an error near 1e-6 instead of 1e-10", grad_check_forward_difference),
    Mistake("the centered difference is divided by h instead of 2h", grad_check_over_h),
    Mistake("the mean of the elementwise relative errors is returned; the check reports the worst (max) one",
            grad_check_mean),
    Mistake("the difference analytic - numerical is not taken in absolute value", grad_check_signed),
])
def check_gradient_check(gradient_check, rng):
    """max relative error between a given analytic gradient and the centered difference, for right and wrong
    analytic gradients of course.testfunctions."""
    for f in TORCH_TWINS:
        for shape, h in [((4,), 1e-5), ((2, 3), 1e-5), ((3,), 1e-4)]:
            x = rng.normal(size=shape)
            right = _autograd(f, x)
            numeric = numerical_gradient(f, x, h)
            for label, analytic in [("the right gradient", right),
                                    ("a gradient 1e-3 off", right * (1 + 1e-3 * rng.normal(size=shape))),
                                    ("half the gradient", 0.5 * right),
                                    ("a gradient with one entry's sign flipped", right * np.where(
                                        np.arange(right.size).reshape(shape) == 0, -1.0, 1.0))]:
                got = gradient_check(f, x, analytic, h)
                expected = rel_error(analytic, numeric)
                expect_close("gradient_check(f, x, analytic_grad, h)", got, expected,
                             inputs=f"f = {f.__name__}, x of shape {shape}, h = {h:g}, {label}",
                             atol=1e-8, rtol=1e-5)


# === 8. minibatch SGD (S) ======================================================================================

def sgd_never_shuffled(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu", loss="softmax",
                       reg=0.0):
    def loss_and_grads(p, Xb, yb):
        depth, n = len(p) // 2, len(Xb)
        acts, zs = [Xb], []
        for layer in range(1, depth + 1):
            zs.append(acts[-1] @ p[f"W{layer}"].T + p[f"b{layer}"])
            acts.append((np.tanh(zs[-1]) if activation == "tanh" else np.maximum(zs[-1], 0))
                        if layer < depth else zs[-1])
        s = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        s /= s.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(s[np.arange(n), yb])) + reg / 2 * sum(np.sum(p[f"W{k}"] ** 2)
                                                                      for k in range(1, depth + 1))
        delta = s.copy()
        delta[np.arange(n), yb] -= 1
        delta /= n
        grads = {}
        for layer in range(depth, 0, -1):
            grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * p[f"W{layer}"]
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer > 1:
                d = 1 - acts[layer - 1] ** 2 if activation == "tanh" else (zs[layer - 2] > 0) * 1.0
                delta = (delta @ p[f"W{layer}"]) * d
        return value, grads

    X, y = np.asarray(X, float), np.asarray(y)
    params = {k: np.array(v, float) for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        order = np.arange(len(X))                                  # the mistake: no shuffle
        values = []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = loss_and_grads(params, X[batch], y[batch])
            values.append(value)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
        losses.append(float(np.mean(values)))
    return params, losses


def sgd_shuffled_once(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu", loss="softmax",
                      reg=0.0):
    def loss_and_grads(p, Xb, yb):
        depth, n = len(p) // 2, len(Xb)
        acts, zs = [Xb], []
        for layer in range(1, depth + 1):
            zs.append(acts[-1] @ p[f"W{layer}"].T + p[f"b{layer}"])
            acts.append((np.tanh(zs[-1]) if activation == "tanh" else np.maximum(zs[-1], 0))
                        if layer < depth else zs[-1])
        s = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        s /= s.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(s[np.arange(n), yb])) + reg / 2 * sum(np.sum(p[f"W{k}"] ** 2)
                                                                      for k in range(1, depth + 1))
        delta = s.copy()
        delta[np.arange(n), yb] -= 1
        delta /= n
        grads = {}
        for layer in range(depth, 0, -1):
            grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * p[f"W{layer}"]
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer > 1:
                d = 1 - acts[layer - 1] ** 2 if activation == "tanh" else (zs[layer - 2] > 0) * 1.0
                delta = (delta @ p[f"W{layer}"]) * d
        return value, grads

    X, y = np.asarray(X, float), np.asarray(y)
    params = {k: np.array(v, float) for k, v in params.items()}
    losses = []
    order = rng.permutation(len(X))                                # the mistake: once, before the epochs
    for _ in range(epochs):
        values = []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = loss_and_grads(params, X[batch], y[batch])
            values.append(value)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
        losses.append(float(np.mean(values)))
    return params, losses


def sgd_gradient_ascent(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu", loss="softmax",
                        reg=0.0):
    def loss_and_grads(p, Xb, yb):
        depth, n = len(p) // 2, len(Xb)
        acts, zs = [Xb], []
        for layer in range(1, depth + 1):
            zs.append(acts[-1] @ p[f"W{layer}"].T + p[f"b{layer}"])
            acts.append((np.tanh(zs[-1]) if activation == "tanh" else np.maximum(zs[-1], 0))
                        if layer < depth else zs[-1])
        s = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        s /= s.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(s[np.arange(n), yb])) + reg / 2 * sum(np.sum(p[f"W{k}"] ** 2)
                                                                      for k in range(1, depth + 1))
        delta = s.copy()
        delta[np.arange(n), yb] -= 1
        delta /= n
        grads = {}
        for layer in range(depth, 0, -1):
            grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * p[f"W{layer}"]
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer > 1:
                d = 1 - acts[layer - 1] ** 2 if activation == "tanh" else (zs[layer - 2] > 0) * 1.0
                delta = (delta @ p[f"W{layer}"]) * d
        return value, grads

    X, y = np.asarray(X, float), np.asarray(y)
    params = {k: np.array(v, float) for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        values = []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = loss_and_grads(params, X[batch], y[batch])
            values.append(value)
            params = {k: params[k] + learning_rate * grads[k] for k in params}     # the mistake: +
        losses.append(float(np.mean(values)))
    return params, losses


def sgd_last_batch_dropped(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu",
                           loss="softmax", reg=0.0):
    def loss_and_grads(p, Xb, yb):
        depth, n = len(p) // 2, len(Xb)
        acts, zs = [Xb], []
        for layer in range(1, depth + 1):
            zs.append(acts[-1] @ p[f"W{layer}"].T + p[f"b{layer}"])
            acts.append((np.tanh(zs[-1]) if activation == "tanh" else np.maximum(zs[-1], 0))
                        if layer < depth else zs[-1])
        s = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        s /= s.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(s[np.arange(n), yb])) + reg / 2 * sum(np.sum(p[f"W{k}"] ** 2)
                                                                      for k in range(1, depth + 1))
        delta = s.copy()
        delta[np.arange(n), yb] -= 1
        delta /= n
        grads = {}
        for layer in range(depth, 0, -1):
            grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * p[f"W{layer}"]
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer > 1:
                d = 1 - acts[layer - 1] ** 2 if activation == "tanh" else (zs[layer - 2] > 0) * 1.0
                delta = (delta @ p[f"W{layer}"]) * d
        return value, grads

    X, y = np.asarray(X, float), np.asarray(y)
    params = {k: np.array(v, float) for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        values = []
        for start in range(0, len(X) - batch_size + 1, batch_size):   # the mistake: a short last batch is lost
            batch = order[start:start + batch_size]
            value, grads = loss_and_grads(params, X[batch], y[batch])
            values.append(value)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
        losses.append(float(np.mean(values)))
    return params, losses


def sgd_with_replacement(params, X, y, learning_rate, epochs, batch_size, rng, activation="relu", loss="softmax",
                         reg=0.0):
    def loss_and_grads(p, Xb, yb):
        depth, n = len(p) // 2, len(Xb)
        acts, zs = [Xb], []
        for layer in range(1, depth + 1):
            zs.append(acts[-1] @ p[f"W{layer}"].T + p[f"b{layer}"])
            acts.append((np.tanh(zs[-1]) if activation == "tanh" else np.maximum(zs[-1], 0))
                        if layer < depth else zs[-1])
        s = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
        s /= s.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(s[np.arange(n), yb])) + reg / 2 * sum(np.sum(p[f"W{k}"] ** 2)
                                                                      for k in range(1, depth + 1))
        delta = s.copy()
        delta[np.arange(n), yb] -= 1
        delta /= n
        grads = {}
        for layer in range(depth, 0, -1):
            grads[f"W{layer}"] = delta.T @ acts[layer - 1] + reg * p[f"W{layer}"]
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer > 1:
                d = 1 - acts[layer - 1] ** 2 if activation == "tanh" else (zs[layer - 2] > 0) * 1.0
                delta = (delta @ p[f"W{layer}"]) * d
        return value, grads

    X, y = np.asarray(X, float), np.asarray(y)
    params = {k: np.array(v, float) for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        values = []
        for start in range(0, len(X), batch_size):
            batch = rng.integers(0, len(X), size=min(batch_size, len(X) - start))   # the mistake
            value, grads = loss_and_grads(params, X[batch], y[batch])
            values.append(value)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
        losses.append(float(np.mean(values)))
    return params, losses


def _same_params(a, b, rtol=1e-9, atol=1e-12) -> bool:
    return isinstance(a, dict) and a.keys() == b.keys() and all(
        np.shape(a[k]) == np.shape(b[k]) and np.allclose(a[k], b[k], rtol=rtol, atol=atol) for k in a)


def _sgd_result(result, what):
    new_params = _item(result, 0, 2, what, "tuple (params, losses)")
    losses = result[1]
    expect_true(isinstance(new_params, dict), f"{what} should return the new parameters as a dict first")
    return new_params, losses


def _sgd_identical_examples(sgd, rng):
    """Ten copies of one example: shuffling cannot matter, so the result is exactly 6 plain gradient steps, and the
    minibatch losses of an epoch are those of 3 single-example steps. Returns (what came back, what is expected,
    where): ((new params, losses), (params, losses))."""
    params = init_mlp([4, 5, 3], rng)
    x0 = rng.normal(size=4)
    X, y = np.tile(x0, (10, 1)), np.full(10, int(rng.integers(0, 3)))
    lr, reg = 0.3, 0.01
    expected, expected_losses = params, []
    for _ in range(2):                       # epochs
        values = []
        for _ in range(3):                   # minibatches of 4, 4 and 2 examples
            value, grads = standing_in_mlp_loss_and_grads(expected, X[:1], y[:1], "tanh", "softmax", reg)
            values.append(value)
            expected = {k: expected[k] - lr * grads[k] for k in expected}
        expected_losses.append(float(np.mean(values)))   # the plain mean: every minibatch counts once
    where = "10 identical examples, batch_size = 4 (minibatches of 4, 4 and 2), 2 epochs, learning_rate = 0.3"
    got = _sgd_result(
        sgd(params, X, y, lr, 2, 4, np.random.default_rng(int(rng.integers(2 ** 32))), "tanh", "softmax", reg),
        "minibatch_sgd")
    expect_true(set(got[0]) == set(params), f"minibatch_sgd should return a dict with keys {sorted(params)}")
    return got, (expected, expected_losses), where


ORDER_RUNS_AT_LEAST = 10


def _sgd_order(sgd, rng):
    """Batch size 1 on 2 examples for 2 epochs: the result must be one of the 4 orders (a permutation per epoch),
    the orders must change from epoch to epoch (over 30 rngs), and the same rng state must give the same result.
    A correct implementation keeps the same order in all 30 runs with probability 2^-30. The runs stop after
    ORDER_RUNS_AT_LEAST once a shuffled order and a change between epochs have both been seen: a mistake that gives
    a permutation only by chance (minibatches drawn with replacement: 1 run in 4) passes them all with probability
    4^-10, and a correct implementation needs no more (each run costs 4 of the course's networks)."""
    params = init_mlp([3, 4, 3], rng)
    X, y = rng.normal(size=(2, 3)), np.array([0, 2])
    lr = 0.5

    def epoch(start, order):
        p = start
        for i in order:
            _, grads = standing_in_mlp_loss_and_grads(p, X[i:i + 1], y[i:i + 1], "tanh", "softmax", 0.0)
            p = {k: p[k] - lr * grads[k] for k in p}
        return p

    orders = [(0, 1), (1, 0)]
    after_first = {o: epoch(params, o) for o in orders}
    outcomes = {(o1, o2): epoch(after_first[o1], o2) for o1 in orders for o2 in orders}
    where = "2 different examples, batch_size = 1, 2 epochs"
    found, generators = [], []
    for run in range(30):
        generator = np.random.default_rng(int(rng.integers(2 ** 32)))
        generators.append(generator)       # a handle sends a copy: this generator keeps its state
        new_params, losses = _sgd_result(sgd(params, X, y, lr, 2, 1, generator, "tanh", "softmax", 0.0),
                                         "minibatch_sgd")
        match = [pair for pair, outcome in outcomes.items() if _same_params(new_params, outcome)]
        expect_true(match, f"for {where}, the result is not that of any order that visits every "
                           "example exactly once per epoch: each epoch must go through a permutation of all "
                           "examples, one update per minibatch")
        expect_true(np.ndim(losses) == 1 and len(losses) == 2,
                    f"minibatch_sgd should return one loss per epoch (2 for {where})")
        found.append(match[0])
        if run + 1 >= ORDER_RUNS_AT_LEAST and any(pair != ((0, 1), (0, 1)) for pair in found) \
                and any(o1 != o2 for o1, o2 in found):
            break
        if run == 0:
            again, _ = _sgd_result(sgd(params, X, y, lr, 2, 1, generator, "tanh", "softmax", 0.0),
                                   "minibatch_sgd")
            expect_true(_same_params(again, new_params),
                        "minibatch_sgd gives different results for two calls with the same rng state: draw all "
                        "randomness from the rng argument (not np.random)")
    shuffled = [g for g, pair in zip(generators, found) if pair != ((0, 1), (0, 1))]
    expect_true(shuffled,
                f"minibatch_sgd never shuffles: for {where} and 30 different rngs the examples are always visited "
                "in their original order")
    if all(o1 == o2 for o1, o2 in found):
        # the diagnosis replays the last call: make it one whose order is not the original one
        sgd(params, X, y, lr, 2, 1, shuffled[0], "tanh", "softmax", 0.0)
    expect_true(any(o1 != o2 for o1, o2 in found),
                f"minibatch_sgd visits the examples in the same order in every epoch ({where}, 30 rngs): shuffle "
                "at the start of every epoch")


# what an SGD check lends the student's minibatch_sgd: it grades the training loop, not the network again
SGD_STAND_INS = {"mlp_loss_and_grads": standing_in_mlp_loss_and_grads}
# the name the SGD mistakes below call, as a student's minibatch_sgd does (a check lends the course's version)
mlp_loss_and_grads = standing_in_mlp_loss_and_grads


def sgd_loss_weighted_by_batch_size(params, X, y, learning_rate, epochs, batch_size, rng,
                                    activation="relu", loss="softmax", reg=0.0):
    X, y = np.asarray(X, float), np.asarray(y)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        values, sizes = [], []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = mlp_loss_and_grads(params, X[batch], y[batch], activation, loss, reg)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
            values.append(value)
            sizes.append(len(batch))
        losses.append(float(np.sum(np.array(values) * np.array(sizes)) / np.sum(sizes)))  # the mistake
    return params, losses


def sgd_loss_after_update(params, X, y, learning_rate, epochs, batch_size, rng,
                          activation="relu", loss="softmax", reg=0.0):
    X, y = np.asarray(X, float), np.asarray(y)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        values, sizes = [], []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = mlp_loss_and_grads(params, X[batch], y[batch], activation, loss, reg)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
            value = mlp_loss_and_grads(params, X[batch], y[batch], activation, loss, reg)[0]  # the mistake
            values.append(value)
            sizes.append(len(batch))
        losses.append(float(np.mean(values)))
    return params, losses


def sgd_loss_summed(params, X, y, learning_rate, epochs, batch_size, rng,
                    activation="relu", loss="softmax", reg=0.0):
    X, y = np.asarray(X, float), np.asarray(y)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        values, sizes = [], []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = mlp_loss_and_grads(params, X[batch], y[batch], activation, loss, reg)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
            values.append(value)
            sizes.append(len(batch))
        losses.append(float(np.sum(values)))  # the mistake
    return params, losses


def sgd_loss_of_last_batch(params, X, y, learning_rate, epochs, batch_size, rng,
                           activation="relu", loss="softmax", reg=0.0):
    X, y = np.asarray(X, float), np.asarray(y)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        values, sizes = [], []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            value, grads = mlp_loss_and_grads(params, X[batch], y[batch], activation, loss, reg)
            params = {k: params[k] - learning_rate * grads[k] for k in params}
            values.append(value)
            sizes.append(len(batch))
        losses.append(float(values[-1]))  # the mistake
    return params, losses


@check("sgd_updates", functions=("minibatch_sgd",), by_hand=True, statistical=True, stand_ins=SGD_STAND_INS,
       mistakes=[
           Mistake("the examples are never shuffled: each epoch must visit them in a fresh random order, "
                   "rng.permutation(N)", sgd_never_shuffled),
           Mistake("the examples are shuffled once, before the first epoch; shuffle at the start of *every* epoch",
                   sgd_shuffled_once),
           Mistake("the update adds the gradient (w + eta dL/dw): that climbs the loss; the step is "
                   "w <- w - eta dL/dw", sgd_gradient_ascent),
           Mistake("the last, shorter minibatch of an epoch is skipped: every example must be used once per epoch",
                   sgd_last_batch_dropped),
           Mistake("minibatches are drawn with replacement (rng.integers); an epoch is one pass over a permutation "
                   "of the examples, each used exactly once", sgd_with_replacement),
       ])
def check_sgd_updates(minibatch_sgd, rng):
    """The parameters minibatch SGD returns, with the course's mlp_loss_and_grads standing in for the student's (so
    a wrong network does not cost the SGD points): exact steps on identical examples, a fresh permutation per
    epoch, reproducible with the same rng. Overfitting 20 digits is the visible check of the same cell."""
    (new_params, _), (expected, _), where = _sgd_identical_examples(minibatch_sgd, rng)
    for k in sorted(expected):
        expect_close(f"minibatch_sgd(...)[0]['{k}']", new_params[k], expected[k], inputs=where +
                     " (3 updates per epoch, each w <- w - learning_rate * dL/dw)", atol=1e-10, rtol=1e-8)
    _sgd_order(minibatch_sgd, rng)


@check("sgd_losses", functions=("minibatch_sgd",), by_hand=True, stand_ins=SGD_STAND_INS, mistakes=[
    Mistake("the epoch's loss is weighted by minibatch size; the exercise asks for the plain mean of the "
            "minibatch losses, in which a shorter last minibatch counts as much as the others",
            sgd_loss_weighted_by_batch_size),
    Mistake("each minibatch loss is taken after its update; take it before (the loss the gradient was computed "
            "for)", sgd_loss_after_update),
    Mistake("the epoch's loss is the sum of its minibatch losses, not their mean", sgd_loss_summed),
    Mistake("the epoch's loss is that of its last minibatch only; it is the mean over all minibatches of the epoch",
            sgd_loss_of_last_batch),
])
def check_sgd_losses(minibatch_sgd, rng):
    """The loss history minibatch SGD returns (the course's mlp_loss_and_grads standing in): one number per epoch,
    the plain mean of its minibatch losses, each taken before that minibatch's update."""
    (_, losses), (_, expected_losses), where = _sgd_identical_examples(minibatch_sgd, rng)
    expect_true(isinstance(losses, (list, tuple, np.ndarray)) and np.ndim(losses) == 1,
                f"minibatch_sgd should return a list with one loss per epoch second, for {where}")
    expect_close("minibatch_sgd(...)[1] (one loss per epoch: the plain mean of its minibatch losses, each taken "
                 "before its update)", np.asarray(losses, dtype=float), np.array(expected_losses), inputs=where,
                 atol=1e-10, rtol=1e-8)


# === 9. data splits (S) ========================================================================================

def _index_array(value, what) -> np.ndarray:
    expect_true(isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu",
                f"{what} should be a 1-D numpy array of integer indices")
    return value


def _subset_z(indices: np.ndarray, n: int) -> float:
    """How many standard errors the mean of a random subset of range(n) is from (n - 1) / 2."""
    m = len(indices)
    if m == 0 or m == n:
        return 0.0
    variance = (n * n - 1) / 12 / m * (n - m) / (n - 1)
    return abs(float(np.mean(indices)) - (n - 1) / 2) / math.sqrt(variance)


def _generator(rng) -> np.random.Generator:
    return np.random.default_rng(int(rng.integers(2 ** 32)))


def _check_partition(parts, names, fractions, n, what):
    """parts: index arrays named names; fractions: the wanted share of each (None: the rest)."""
    arrays = [_index_array(p, f"{what}: {name}") for p, name in zip(parts, names)]
    for array, name, fraction in zip(arrays, names, fractions):
        if fraction is not None:
            expect_true(abs(len(array) - fraction * n) < 1,
                        f"{what}: {name} has {len(array)} indices; it should have about {fraction} * n")
    everything = np.concatenate(arrays)
    expect_true(len(everything) == n and np.array_equal(np.sort(everything), np.arange(n)),
                f"{what}: the parts ({', '.join(names)}) must be disjoint and together hold every index "
                f"0..n-1 exactly once")
    if n >= 100:
        for array, name in zip(arrays, names):
            expect_true(_subset_z(array, n) < 6,
                        f"{what}: {name} is not a random subset (its indices are far from spread over 0..n-1): "
                        "shuffle the indices with the rng before cutting")


def tt_not_shuffled(n, test_fraction, rng):
    n_test = int(round(test_fraction * n))
    order = np.arange(n)
    return order[:n - n_test], order[n - n_test:]


def tt_rng_ignored(n, test_fraction, rng):
    order = np.random.default_rng(0).permutation(n)
    n_test = int(round(test_fraction * n))
    return order[n_test:], order[:n_test]


def tt_swapped(n, test_fraction, rng):
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return order[:n_test], order[n_test:]


def tt_test_inside_train(n, test_fraction, rng):
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    return order.copy(), order[:n_test]


def tvt_val_of_remainder(n, val_fraction, test_fraction, rng):
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * (n - n_test)))
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]


def tvt_not_shuffled(n, val_fraction, test_fraction, rng):
    order = np.arange(n)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * n))
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]


def tvt_val_overlaps_test(n, val_fraction, test_fraction, rng):
    order = rng.permutation(n)
    n_test = int(round(test_fraction * n))
    n_val = int(round(val_fraction * n))
    return order[n_test + n_val:], order[:n_val], order[:n_test]


@check("holdout_splits", functions=("train_test_indices", "train_val_test_indices"), by_hand=True,
       statistical=True, mistakes=[
           Mistake("the indices are not shuffled: the test set is simply the last part of the data",
                   tt_not_shuffled),
           Mistake("the rng argument is ignored (a fixed seed inside): different rngs must give different splits",
                   tt_rng_ignored),
           Mistake("train and test are swapped: return (train_idx, test_idx), the test part holding about "
                   "test_fraction * n indices", tt_swapped),
           Mistake("the training set also contains the test examples; the parts must be disjoint",
                   tt_test_inside_train),
           Mistake("the validation size is val_fraction of what is left after the test set; both fractions are "
                   "fractions of all n examples", tvt_val_of_remainder, replaces="train_val_test_indices"),
           Mistake("the indices are not shuffled before they are cut into train, validation and test",
                   tvt_not_shuffled, replaces="train_val_test_indices"),
           Mistake("the validation and test sets overlap (both taken from the start of the permutation)",
                   tvt_val_overlaps_test, replaces="train_val_test_indices"),
       ])
def check_holdout_splits(train_test_indices, train_val_test_indices, rng):
    """Properties of train/test and train/validation/test index splits: sizes, disjoint, cover, random,
    reproducible from the rng, different for different rngs."""
    for n, test_fraction in [(1000, 0.2), (101, 0.25), (10, 0.3), (1797, 0.1)]:
        what = f"train_test_indices(n = {n}, test_fraction = {test_fraction}, rng)"
        generator = _generator(rng)
        result = train_test_indices(n, test_fraction, generator)
        parts = [_item(result, i, 2, "train_test_indices", "tuple (train_idx, test_idx)") for i in range(2)]
        _check_partition(parts, ("train_idx", "test_idx"), (None, test_fraction), n, what)
        again = train_test_indices(n, test_fraction, generator)
        expect_true(all(np.array_equal(a, b) for a, b in zip(parts, again)),
                    f"{what} gives different splits for the same rng state: draw all randomness from rng")
        if n >= 100:
            other = train_test_indices(n, test_fraction, _generator(rng))
            expect_true(not np.array_equal(np.sort(other[1]), np.sort(parts[1])),
                        f"{what} gives the same test set for two different rngs: shuffle with the rng you are given")
    for n, val_fraction, test_fraction in [(1000, 0.2, 0.2), (103, 0.15, 0.25), (20, 0.1, 0.1)]:
        what = f"train_val_test_indices(n = {n}, val_fraction = {val_fraction}, test_fraction = {test_fraction}, rng)"
        generator = _generator(rng)
        result = train_val_test_indices(n, val_fraction, test_fraction, generator)
        parts = [_item(result, i, 3, "train_val_test_indices", "tuple (train_idx, val_idx, test_idx)")
                 for i in range(3)]
        _check_partition(parts, ("train_idx", "val_idx", "test_idx"), (None, val_fraction, test_fraction), n, what)
        again = train_val_test_indices(n, val_fraction, test_fraction, generator)
        expect_true(all(np.array_equal(a, b) for a, b in zip(parts, again)),
                    f"{what} gives different splits for the same rng state: draw all randomness from rng")
        if n >= 100:
            other = train_val_test_indices(n, val_fraction, test_fraction, _generator(rng))
            expect_true(not np.array_equal(np.sort(other[2]), np.sort(parts[2])),
                        f"{what} gives the same test set for two different rngs: shuffle with the rng you are given")


def kfold_contiguous(n, k, rng):
    folds = np.array_split(np.arange(n), k)
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


def kfold_train_includes_validation(n, k, rng):
    folds = np.array_split(rng.permutation(n), k)
    return [(np.arange(n), folds[i]) for i in range(k)]


def kfold_remainder_in_last_fold(n, k, rng):
    order = rng.permutation(n)
    size = n // k
    folds = [order[i * size:(i + 1) * size] for i in range(k - 1)] + [order[(k - 1) * size:]]
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


def kfold_permutation_per_fold(n, k, rng):
    result = []
    for i in range(k):
        order = rng.permutation(n)
        bounds = np.linspace(0, n, k + 1).astype(int)
        val = order[bounds[i]:bounds[i + 1]]
        result.append((np.setdiff1d(np.arange(n), val), val))
    return result


def kfold_rng_ignored(n, k, rng):
    folds = np.array_split(np.random.default_rng(0).permutation(n), k)
    return [(np.concatenate([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


@check("kfold_indices", by_hand=True, statistical=True, mistakes=[
    Mistake("the folds are contiguous blocks of 0..n-1: shuffle the indices with the rng first", kfold_contiguous),
    Mistake("each training part also holds its validation fold; train must be every index *not* in the fold",
            kfold_train_includes_validation),
    Mistake("the remainder of n / k goes to the last fold alone; fold sizes may differ by at most one "
            "(np.array_split does this)", kfold_remainder_in_last_fold),
    Mistake("a new permutation is drawn for every fold, so the validation folds overlap; shuffle once and cut that "
            "permutation into k folds", kfold_permutation_per_fold),
    Mistake("the rng argument is ignored (a fixed seed inside): different rngs must give different folds",
            kfold_rng_ignored),
])
def check_kfold_indices(kfold_indices, rng):
    """Properties of k-fold cross-validation indices: k folds of sizes differing by at most one that partition
    0..n-1, each training part the complement of its fold, random, reproducible from the rng."""
    for n, k in [(100, 5), (103, 5), (10, 10), (7, 2), (500, 4)]:
        what = f"kfold_indices(n = {n}, k = {k}, rng)"
        generator = _generator(rng)
        folds = kfold_indices(n, k, generator)
        expect_true(isinstance(folds, (list, tuple)) and len(folds) == k,
                    f"{what} should return a list of k = {k} pairs (train_idx, val_idx)")
        vals = []
        for i, pair in enumerate(folds):
            train = _index_array(_item(pair, 0, 2, f"{what}[{i}]", "pair (train_idx, val_idx)"), f"{what}[{i}][0]")
            val = _index_array(pair[1], f"{what}[{i}][1]")
            expect_true(len(val) in (n // k, -(-n // k)),
                        f"{what}: fold {i} has {len(val)} validation indices; fold sizes must be n // k or "
                        "n // k + 1 (differing by at most one)")
            expect_true(len(train) + len(val) == n and np.array_equal(np.sort(np.concatenate([train, val])),
                                                                     np.arange(n)),
                        f"{what}: in fold {i}, train_idx must be exactly the indices not in val_idx")
            vals.append(val)
        everything = np.concatenate(vals)
        expect_true(len(everything) == n and np.array_equal(np.sort(everything), np.arange(n)),
                    f"{what}: the validation folds must be disjoint and together hold every index 0..n-1 once")
        if n >= 100:
            expect_true(all(_subset_z(v, n) < 6 for v in vals),
                        f"{what}: the folds are not random subsets (contiguous blocks?): shuffle with the rng first")
        again = kfold_indices(n, k, generator)
        expect_true(all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again)),
                    f"{what} gives different folds for the same rng state: draw all randomness from rng")
        if n >= 100:
            other = kfold_indices(n, k, _generator(rng))
            expect_true(not np.array_equal(np.sort(other[0][1]), np.sort(folds[0][1])),
                        f"{what} gives the same folds for two different rngs: shuffle with the rng you are given")


CHECKS = [
    check_graph_forward, check_graph_backward, check_gate_backward, check_sigmoid_neuron,
    check_activation_forward, check_activation_derivative,
    check_affine_forward, check_affine_backward_dx, check_affine_backward_dW, check_affine_backward_db,
    check_softmax, check_softmax_cross_entropy, check_mse_loss, check_sigmoid_binary_cross_entropy,
    check_mlp_loss, check_mlp_gradients, check_gradient_check,
    check_sgd_updates, check_sgd_losses, check_holdout_splits, check_kfold_indices,
]


# --- expected_initial_loss (appended after CHECKS so that the list above stays as it was; added to it at the end) -


@cached_reference
def reference_initial_loss(loss, y, num_outputs) -> torch.Tensor:
    """The loss of all-zero output scores (tiny weights, zero biases), by PyTorch's losses in the course's form."""
    n = len(y)
    zeros = torch.zeros(n, num_outputs, dtype=torch.float64)
    if loss == "softmax":
        return F.cross_entropy(zeros, torch.as_tensor(np.asarray(y), dtype=torch.long))
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(zeros, _t(y), reduction="sum") / n
    return F.mse_loss(zeros, _t(y), reduction="sum") / n


def _initial_loss(loss, y, num_outputs, *, log=math.log, bce_outputs=None, mse_mean=False, mse_output=0.0):
    """The loss of all-zero scores, with switches for the typical mistakes (defaults: correct)."""
    y = np.asarray(y, dtype=float)
    if loss == "softmax":
        return log(num_outputs)
    if loss == "bce":
        return (num_outputs if bce_outputs is None else bce_outputs) * log(2)
    squared = (mse_output - y) ** 2
    return float(np.mean(squared) if mse_mean else np.sum(squared) / len(y))


def initial_loss_log10(loss, y, num_outputs):
    return _initial_loss(loss, y, num_outputs, log=math.log10)


def initial_loss_bce_per_entry(loss, y, num_outputs):
    return _initial_loss(loss, y, num_outputs, bce_outputs=1)


def initial_loss_mse_mean(loss, y, num_outputs):
    return _initial_loss(loss, y, num_outputs, mse_mean=True)


def initial_loss_mse_of_half(loss, y, num_outputs):
    return _initial_loss(loss, y, num_outputs, mse_output=0.5)


EXPECTED_INITIAL_LOSS_MISTAKES = [
    Mistake("the logarithm is base 10 (lecture 002's cat slide); the course's losses use ln: ln K for softmax, "
            "K ln 2 for binary cross-entropy", initial_loss_log10),
    Mistake("the binary cross-entropy is taken per output (ln 2); the course's loss sums over the K outputs and "
            "averages over the examples: K ln 2", initial_loss_bce_per_entry),
    Mistake("the MSE is averaged over all N*K entries; lecture 001's cost sums over the outputs and averages over "
            "the N examples: (1/N) sum_n ||y_n||^2", initial_loss_mse_mean),
    Mistake("the MSE uses outputs 0.5 (a sigmoid of 0); with a linear output layer the outputs are the scores, 0",
            initial_loss_mse_of_half),
]


def _initial_loss_cases(rng):
    for n, k in [(5, 10), (1, 3), (8, 2), (4, 7)]:
        yield "softmax", rng.integers(0, k, size=n), k
        yield "bce", rng.integers(0, 2, size=(n, k)).astype(float), k
        yield "bce", rng.uniform(0, 1, size=(n, k)), k
        yield "mse", rng.normal(size=(n, k)), k


@check("expected_initial_loss", mistakes=EXPECTED_INITIAL_LOSS_MISTAKES, by_hand=True)
def check_expected_initial_loss(expected_initial_loss, rng):
    """expected_initial_loss(loss, y, K) equals PyTorch's loss of all-zero scores, for every loss of the course."""
    for loss, y, k in _initial_loss_cases(rng):
        got = expected_initial_loss(loss, y, k)
        expect_close(f"expected_initial_loss({loss!r}, y, {k})", got, reference_initial_loss(loss, y, k),
                     inputs=describe_inputs(y=y, num_outputs=k), atol=1e-12, rtol=1e-10)


CHECKS += [check_expected_initial_loss]
