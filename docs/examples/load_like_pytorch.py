"""Load a zkdl-exported model the way a PyTorch user does and compare with proven outputs.

    python docs/examples/load_like_pytorch.py MODEL.npz INPUT.npy OUTPUTS.json

MODEL.npz is what ``zkdl train`` / ``Recorder.export_weights`` write: a float state dict keyed like
``nn.Sequential(Linear, ReLU, Linear, ...).state_dict()`` (``0.weight`` of shape (out, in),
``0.bias``, ``2.weight``, ...).  With torch installed the model is built as an ``nn.Sequential``
and ``load_state_dict`` takes the file as is; without it the same forward pass runs in numpy.
The outputs are compared with the proven ones (OUTPUTS.json of ``zkdl prove-inference``): they
agree up to the fixed-point rounding.
"""
import json
import sys

import numpy as np


def main(model_path: str, input_path: str, outputs_path: str) -> int:
    sd = dict(np.load(model_path))
    names = sorted({k.rsplit(".", 1)[0] for k in sd}, key=int)     # Sequential indices: 0, 2, 4, ...
    x = np.load(input_path)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        mods = []
        for j, n in enumerate(names):
            out_f, in_f = sd[f"{n}.weight"].shape
            mods.append(torch.nn.Linear(in_f, out_f, dtype=torch.float64))
            if j < len(names) - 1:
                mods.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*mods)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        y = net(torch.from_numpy(x.astype(np.float64))).detach().numpy()
    else:
        y = x.astype(np.float64)
        for j, n in enumerate(names):
            y = y @ sd[f"{n}.weight"].T + sd[f"{n}.bias"]
            if j < len(names) - 1:
                y = np.maximum(y, 0)
    proven = np.array(json.load(open(outputs_path))["outputs"])
    diff = float(np.abs(y - proven).max())
    print(f"float forward pass of {model_path} vs the proven outputs: max |difference| = {diff:.2e}")
    print("argmax agrees:", bool((y.argmax(1) == proven.argmax(1)).all()))
    return 0 if diff < 1e-2 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
