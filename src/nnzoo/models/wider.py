"""``wider``: the `MLP` with hidden widths (1024, 728).

    h_1 = relu(W_1 flatten(x) + b_1)        (B, 1024)
    h_2 = relu(W_2 h_1 + b_2)               (B, 728)
    logits = W_3 h_2 + b_3                  (B, num_classes)

On 28x28 images and 10 classes: 784*1024 + 1024 + 1024*728 + 728 + 728*10 + 10
= 803,840 + 746,200 + 7,290 = 1,557,330 parameters.
"""

from __future__ import annotations

import functools

from nnzoo.models import MODELS
from nnzoo.models.mlp import MLP

# An `MLP` whose default widths are (1024, 728); the options are the MLP's.
wider = MODELS.register("wider")(functools.partial(MLP, widths=(1024, 728)))
