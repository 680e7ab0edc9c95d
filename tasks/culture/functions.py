"""The names the generated task files reference with `!function functions.<name>`.

lm-eval loads this file by path from the folder of the YAML files, in every 0.4.x release, so
the helpers themselves live in importable modules and are only re-exported here.
"""

from culturebench.tasks.docs import load_docs
from culturebench.tasks.prompting import (
    answer_index,
    cloze_choices,
    cloze_text,
    mcq_target,
    mcq_text,
    open_target,
    open_text,
)
from culturebench.tasks.scoring import (
    aggregate_acc_loc,
    aggregate_acc_nonloc,
    aggregate_pnlg,
    aggregate_rca,
    process_loglikelihood,
    process_loglikelihood_both,
    process_mcq,
    process_mcq_both,
    process_open,
)

__all__ = [
    "aggregate_acc_loc",
    "aggregate_acc_nonloc",
    "aggregate_pnlg",
    "aggregate_rca",
    "answer_index",
    "cloze_choices",
    "cloze_text",
    "load_docs",
    "mcq_target",
    "mcq_text",
    "open_target",
    "open_text",
    "process_loglikelihood",
    "process_loglikelihood_both",
    "process_mcq",
    "process_mcq_both",
    "process_open",
]
