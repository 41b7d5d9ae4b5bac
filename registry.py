"""The questions of Problem Set 2, in the problem set's order, and the parts that answer them.

Each part is a function ``(ctx: Context) -> Section``: derivation modules offer ``derive``,
numeric modules ``check`` (a verification against torch) or ``run`` (an experiment). A question's
section is the merge of its parts' sections. ``needs`` names the questions whose artifacts (files
under ``ctx.out_dir``) a question reads, so ``build.py --only`` can run those first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from derivations import (
    q1_dropout,
    q2_batchnorm,
    q3_layernorm,
    q3c_puzzle,
    q4a_init,
    q4b_weight_decay,
    q4c_adam,
    q4c_adamw,
    q4c_l2_coupling,
)
from derivations.core import Context, Section
from numeric import (
    bonus_analogies,
    q1a_dropout,
    q1b_dropout_plot,
    q2a_batchnorm,
    q2b_batchnorm,
    q3a_layernorm,
    q3b_layernorm,
    q4a_histograms,
    q4d_optimizers,
    q4e_augmentation,
    q5a_cbow,
    q5b_clusters,
)
from numeric import (
    q3c_puzzle as q3c_numeric,
)
from numeric import (
    q4a_init as q4a_numeric,
)
from numeric import (
    q4b_weight_decay as q4b_numeric,
)
from numeric import (
    q4c_adam as q4c_numeric,
)
from numeric import (
    q4c_adamw as q4c_adamw_numeric,
)
from numeric import (
    q4c_l2_coupling as q4c_l2_numeric,
)

Part = Callable[[Context], Section]


@dataclass(frozen=True)
class Question:
    id: str  # results.json key, e.g. "q2a"
    title: str  # the problem set's heading
    parts: tuple[Part, ...]
    needs: tuple[str, ...] = ()

    def run(self, ctx: Context) -> Section:
        section = Section()
        for part in self.parts:
            section.merge(part(ctx))
        return section


QUESTIONS: tuple[Question, ...] = (
    Question("q1a", "1A Dropout equivalence to ℓ2 regularization", (q1_dropout.derive, q1a_dropout.check)),
    Question("q1b", "1B Dropout code: loss vs dropout rate", (q1b_dropout_plot.run,)),
    Question("q2a", "2A BatchNorm backpropagation", (q2_batchnorm.derive, q2a_batchnorm.check)),
    Question("q2b", "2B BatchNorm from scratch", (q2b_batchnorm.check,)),
    Question("q3a", "3A LayerNorm backpropagation", (q3_layernorm.derive, q3a_layernorm.check)),
    Question("q3b", "3B LayerNorm from scratch", (q3b_layernorm.check,)),
    Question("q3c", "3C BatchNorm LayerNorm puzzle", (q3c_puzzle.derive, q3c_numeric.check)),
    Question(
        "q4a",
        "4A Regularization: initial weights, SGD, weight decay",
        (q4a_init.derive, q4a_numeric.check, q4a_histograms.run),
    ),
    Question("q4b", "4B SGD and weight decay", (q4b_weight_decay.derive, q4b_numeric.check)),
    Question(
        "q4c",
        "4C Optimizers: Adam bias correction, ℓ2 vs decoupled decay, AdamW",
        (q4c_adam.derive, q4c_l2_coupling.derive, q4c_adamw.derive,
         q4c_numeric.bias, q4c_l2_numeric.check, q4c_adamw_numeric.check),
    ),  # fmt: skip
    Question("q4d", "4D Comparing optimizers", (q4d_optimizers.run,)),
    Question("q4e", "4E Data augmentation", (q4e_augmentation.run,)),
    Question("q5a", "5A Continuous Bag of Words (CBOW)", (q5a_cbow.run,)),
    Question("q5b", "5B Semantically similar clusters", (q5b_clusters.run,), needs=("q5a",)),
    Question("bonus", "Bonus: semantically meaningful directions", (bonus_analogies.run,), needs=("q5a",)),
)

BY_ID: dict[str, Question] = {q.id: q for q in QUESTIONS}
