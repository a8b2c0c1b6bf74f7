"""Training the next-item Transformer: objectives, training windows, the loop and its checkpoints.

:func:`train_next_item` trains on a Dataset and saves a Model folder; :class:`TransformerRecommender`
is the same model as an estimator beside the baselines (``fit`` / ``score`` / ``recommend``).
"""

from seqintent.train.estimator import TransformerRecommender
from seqintent.train.loop import checkpoint_dir, train_next_item
from seqintent.train.neighbour_prior import add_neighbour_prior
from seqintent.train.objectives import full_softmax_loss, sampled_softmax_loss, sampling_distribution
from seqintent.train.transition_prior import add_transition_prior
from seqintent.train.windows import TrainingPlan, plan_training, training_end

__all__ = [
    "TrainingPlan",
    "TransformerRecommender",
    "add_neighbour_prior",
    "add_transition_prior",
    "checkpoint_dir",
    "full_softmax_loss",
    "plan_training",
    "sampled_softmax_loss",
    "sampling_distribution",
    "train_next_item",
    "training_end",
]
