"""Load DIET and TED for serving without building their training step.

Rasa's `RasaModel.load` compiles the model and fits it on one example — tracing
the whole training step, gradients of the CRF's while-loops included — only so
that every variable (the optimizer's too) exists before the weights are read;
then it traces the prediction step. A server never trains, and the training
step was most of a bot's start-up (py-spy, issue #16).

`load_for_serving` builds the variables the way prediction uses them (one
eager prediction on Rasa's own example, no tracing), reads the saved weights
into them (the optimizer's slots in the file are skipped; any other variable
made later is restored when it is created — TensorFlow's deferred restore), and
then lets Rasa prepare and trace prediction as it always does. Fine-tuning
(`rasa train --finetune`) and models without a prediction example keep Rasa's
own load. `tests/test_nlu_pipeline.py` checks that both loads predict
the same.
"""

from __future__ import annotations

from typing import Any, Optional

_rasa_load: Optional[Any] = None


def load_for_serving(cls: Any, model_file_name: str, model_data_example: Any,
                     predict_data_example: Any = None, finetune_mode: bool = False,
                     *args: Any, **kwargs: Any) -> Any:
    """Drop-in for `RasaModel.load` (same arguments, same model)."""
    assert _rasa_load is not None, "install() first"
    if finetune_mode or predict_data_example is None:
        return _rasa_load(cls, model_file_name, model_data_example, predict_data_example,
                          finetune_mode, *args, **kwargs)
    model = cls(*args, **kwargs)
    eager = model._run_eagerly
    model._run_eagerly = True           # one eager prediction creates the variables, traces nothing
    model.run_inference(predict_data_example)
    model._run_eagerly = eager
    model.load_weights(model_file_name).expect_partial()
    # What prepare_for_predict computed (label embeddings) came from the random
    # weights: recompute it, and trace prediction, with the loaded ones.
    model.prepared_for_prediction = False
    model._tf_predict_step = None
    model.run_inference(predict_data_example)
    return model


def install() -> None:
    """Make every `RasaModel.load` in this process use `load_for_serving` (idempotent)."""
    global _rasa_load
    from rasa.utils.tensorflow.models import RasaModel

    if _rasa_load is None:
        _rasa_load = RasaModel.load.__func__  # type: ignore[attr-defined]
    RasaModel.load = classmethod(load_for_serving)  # type: ignore[method-assign, assignment]
