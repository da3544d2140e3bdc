"""Import a fully connected ReLU network from an ONNX file (e.g. an EZKL user's ``network.onnx``).

    from zkdl.onnx_import import load_onnx
    from zkdl.trainer import init_weights_from_float
    W = init_weights_from_float(load_onnx("network.onnx"), R=16)      # zkdl's integer layout

:func:`load_onnx` returns the float layers, in order, as pairs (W of shape (in, out), b of shape
(out,)) -- what :func:`zkdl.trainer.init_weights_from_float` takes.  The graph must be one chain
from its single input to its single output:

* optionally ``Flatten`` (axis 1) / ``Reshape`` (to 2-D) of the input (e.g. a 1x28x28 image to 784
  features), and ``Identity`` anywhere;
* linear layers: ``Gemm`` (transA = 0; transB = 0 or 1, i.e. a weight stored (in, out) or
  PyTorch's (out, in); alpha and beta are folded in) or ``MatMul`` with a constant (in, out)
  matrix, optionally followed by ``Add`` of a constant bias;
* ``Relu`` between consecutive linear layers, and none after the last one (zkdl's MLP outputs
  the last layer's value: a network ending in Relu is refused).

Weights and biases are constants (initializers or ``Constant`` nodes).  Any other operator
(Conv, Sigmoid, Softmax, BatchNormalization, ...) or a graph that is not such a chain is refused
with :class:`OnnxModelError` naming the node.  The ``onnx`` package is needed (``pip install
onnx``, or the ``onnx`` extra of zkdl); without it, OnnxModelError says so.
"""
from __future__ import annotations

import os

import numpy as np

from .runfiles import RunFormatError

__all__ = ["load_onnx", "onnx_state_dict", "OnnxModelError", "SUPPORTED_OPS"]

#: the operators a supported graph may contain (Constant nodes only provide weights or shapes)
SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Relu", "Flatten", "Reshape", "Identity")


class OnnxModelError(RunFormatError):
    """An ONNX file that zkdl cannot import (or the onnx package is missing): unusable input."""


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise OnnxModelError("reading .onnx models needs the onnx package, which is not installed: "
                             "pip install onnx (or pip install 'zkdl[onnx]')") from None
    return onnx, numpy_helper


def _attrs(node, onnx) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _desc(node) -> str:
    return f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node (output {node.output[0]!r})"


def load_onnx(path) -> list[tuple[np.ndarray, np.ndarray]]:
    """The linear layers of a fully connected ReLU network stored in ONNX: a list of float64
    pairs (W (in, out), b (out,)), first layer first (module docstring: what is accepted).
    OnnxModelError for an unreadable file, an unsupported operator or a graph that is not an
    MLP chain."""
    onnx, numpy_helper = _onnx()
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OnnxModelError(f"{path} is a directory, not an .onnx file")
    if not os.path.exists(path):
        raise OnnxModelError(f"{path}: no such file")
    try:
        model = onnx.load(path)
    except Exception as e:           # protobuf DecodeError and friends
        raise OnnxModelError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    g = model.graph
    where = os.path.basename(path)

    consts: dict[str, np.ndarray] = {}
    for t in g.initializer:
        v = numpy_helper.to_array(t)
        consts[t.name] = v.astype(np.float64) if v.dtype.kind in "fiub" else v
    inputs = [i.name for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise OnnxModelError(f"{where}: the graph has {len(inputs)} inputs {inputs}; a zkdl MLP has one (the features)")
    if len(g.output) != 1:
        raise OnnxModelError(f"{where}: the graph has {len(g.output)} outputs; a zkdl MLP has one")

    def const(name, node, what):
        if name not in consts:
            raise OnnxModelError(f"{where}: {_desc(node)}: its {what} {name!r} is not a constant (initializer); "
                                 "zkdl imports fixed weights only")
        return consts[name]

    cur = inputs[0]                  # the tensor the chain has reached
    layers: list[list[np.ndarray]] = []     # [W (in, out), b (out,)]
    relu_after: list[bool] = []
    last = None                      # what produced `cur`: None (input), "linear", "matmul", "relu"
    for node in g.node:
        op = node.op_type
        if op == "Constant":
            a = _attrs(node, onnx)
            if "value" not in a:
                raise OnnxModelError(f"{where}: {_desc(node)}: only tensor-valued Constant nodes are supported")
            v = numpy_helper.to_array(a["value"])
            consts[node.output[0]] = v.astype(np.float64) if v.dtype.kind in "fiub" else v
            continue
        if op not in SUPPORTED_OPS:
            raise OnnxModelError(f"{where}: unsupported ONNX operator {_desc(node)}: zkdl proves fully connected "
                                 f"ReLU networks only (supported: {', '.join(SUPPORTED_OPS)})")
        if op == "Identity" and node.input[0] in consts:
            consts[node.output[0]] = consts[node.input[0]]
            continue
        data_in = [x for x in node.input if x and x not in consts]
        if data_in != [cur] or (op != "Add" and node.input[0] != cur):
            raise OnnxModelError(f"{where}: {_desc(node)} takes {list(node.input)}, not the output {cur!r} of the "
                                 "previous layer: not a simple chain (an MLP: linear layers with Relu between)")
        a = _attrs(node, onnx)
        if op == "Identity":
            pass
        elif op in ("Flatten", "Reshape"):
            if layers:
                raise OnnxModelError(f"{where}: {_desc(node)} after a linear layer; only the input may be "
                                     "flattened / reshaped")
            if op == "Flatten" and a.get("axis", 1) != 1:
                raise OnnxModelError(f"{where}: {_desc(node)} with axis {a.get('axis')}; only axis 1 (one row "
                                     "per example) is supported")
            if op == "Reshape":
                shape = const(node.input[1], node, "shape")
                if shape.ndim != 1 or shape.shape[0] != 2:
                    raise OnnxModelError(f"{where}: {_desc(node)} to shape {shape.tolist()}; only a reshape "
                                         "to (examples, features) is supported")
        elif op == "Gemm":
            if a.get("transA", 0):
                raise OnnxModelError(f"{where}: {_desc(node)} with transA=1 is not supported")
            B = const(node.input[1], node, "weight")
            if B.ndim != 2:
                raise OnnxModelError(f"{where}: {_desc(node)}: weight of shape {B.shape}, expected 2-D")
            W = (B.T if a.get("transB", 0) else B) * float(a.get("alpha", 1.0))
            b = np.zeros(W.shape[1])
            if len(node.input) > 2 and node.input[2]:
                C = const(node.input[2], node, "bias") * float(a.get("beta", 1.0))
                b = _bias(C, W.shape[1], node, where)
            layers.append([W, b])
            relu_after.append(False)
            last = "linear"
        elif op == "MatMul":
            B = const(node.input[1], node, "weight")
            if B.ndim != 2:
                raise OnnxModelError(f"{where}: {_desc(node)}: weight of shape {B.shape}, expected a 2-D (in, out) "
                                     "matrix")
            layers.append([B.copy(), np.zeros(B.shape[1])])
            relu_after.append(False)
            last = "matmul"
        elif op == "Add":
            if last != "matmul":
                raise OnnxModelError(f"{where}: {_desc(node)} does not follow a MatMul: only a bias added to a "
                                     "MatMul's output is supported")
            other = [x for x in node.input if x != cur]
            if len(other) != 1:
                raise OnnxModelError(f"{where}: {_desc(node)} adds a tensor to itself; expected a constant bias")
            layers[-1][1] = _bias(const(other[0], node, "bias"), layers[-1][0].shape[1], node, where)
            last = "linear"
        elif op == "Relu":
            if last not in ("linear", "matmul"):
                raise OnnxModelError(f"{where}: {_desc(node)} does not follow a linear layer (Gemm or MatMul + "
                                     "Add); zkdl's MLP applies Relu between linear layers only")
            relu_after[-1] = True
            last = "relu"
        cur = node.output[0]
    if g.output[0].name != cur:
        raise OnnxModelError(f"{where}: the graph's output {g.output[0].name!r} is not the end of the layer chain "
                             f"({cur!r})")
    if not layers:
        raise OnnxModelError(f"{where}: no linear layer (Gemm, or MatMul + Add) in the graph")
    if relu_after[-1]:
        raise OnnxModelError(f"{where}: the network ends with a Relu; zkdl's MLP outputs the last linear layer "
                             "(no activation after it): export the model without the final Relu")
    for i, r in enumerate(relu_after[:-1]):
        if not r:
            raise OnnxModelError(f"{where}: linear layers {i + 1} and {i + 2} have no Relu between them; zkdl's MLP "
                                 "applies Relu after every linear layer but the last")
    for i in range(1, len(layers)):
        if layers[i][0].shape[0] != layers[i - 1][0].shape[1]:
            raise OnnxModelError(f"{where}: layer {i + 1} takes {layers[i][0].shape[0]} inputs but layer {i} has "
                                 f"{layers[i - 1][0].shape[1]} outputs")
    return [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in layers]


def _bias(C: np.ndarray, d_out: int, node, where: str) -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    if C.size == 1:
        return np.full(d_out, float(C.reshape(-1)[0]))
    if C.size == d_out and (C.ndim == 1 or C.shape in ((1, d_out),)):
        return C.reshape(d_out).copy()
    raise OnnxModelError(f"{where}: {_desc(node)}: bias of shape {C.shape}, expected ({d_out},)")


def onnx_state_dict(path) -> dict[str, np.ndarray]:
    """:func:`load_onnx` as a dict {"W0": (in, out), "b0": (out,), "W1": ...}, the float-weights
    mapping :func:`zkdl.trainer.init_weights_from_float` and ``zkdl commit-model`` read."""
    out = {}
    for i, (w, b) in enumerate(load_onnx(path)):
        out[f"W{i}"], out[f"b{i}"] = w, b
    return out
