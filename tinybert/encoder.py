"""The page's encoder run natively: the only module of the package that imports onnxruntime.

Each text runs alone (batch 1, never padded, as the manifest's runtime settings say and the
page does), and its token vectors are pooled by the core's ``mean_pool`` and
``l2_normalize``, the functions the page runs on onnxruntime-web's output, then stored as
float32 as the page stores them. What remains different from the page is the runtime:
native onnxruntime and onnxruntime-web's WASM kernels round floats differently, which the
INT8 activations amplify now and then (mean cosine between the two 0.9998 on 1,000 review
sentences, the lowest 0.986; see tests/browser/test_twin_parity.py).
"""
import numpy as np

from tinybert.errors import SetupError
from tinybert_core.pooling import l2_normalize, mean_pool

LEVELS = {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
          "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
MODES = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise SetupError("python -m tinybert needs onnxruntime: run `make setup`, or "
                         "`pip install -e '.[cli]'`.") from None
    return onnxruntime


class NativeEncoder:
    """An onnxruntime CPU session on a model's encoder file.

    model: a tinybert.model.Model; threads: onnxruntime's intra-op threads (0: its default).
    ``runs`` counts the texts run through the encoder. Raises SetupError when onnxruntime is
    missing or the file does not load or does not have the manifest's inputs and output.
    """

    def __init__(self, model, threads):
        ort = _onnxruntime()
        settings = model.manifest.get("runtime", {}).get("session_options", {})
        options = ort.SessionOptions()
        options.graph_optimization_level = getattr(
            ort.GraphOptimizationLevel, LEVELS[settings.get("graphOptimizationLevel", "all")])
        options.execution_mode = getattr(
            ort.ExecutionMode, MODES[settings.get("executionMode", "sequential")])
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model.encoder_path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise SetupError(f"onnxruntime could not load {model.encoder_path}: {error}. "
                             "Run `make model` again.") from None
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != model.manifest.get("inputs", inputs) or \
                model.manifest.get("output", outputs[0]) not in outputs:
            raise SetupError(f"{model.encoder_path} has inputs {inputs} and outputs {outputs}, "
                             "not what its manifest says. Run `make model` again.")
        self.output = model.manifest.get("output", outputs[0])
        self.hidden_size = model.hidden_size
        self.runs = 0

    def embed_ids(self, ids):
        """The pooled, L2-normalised float32 embedding of one token-id list ([CLS] ... [SEP]).

        Raises SetupError if the encoder's vectors are not of the manifest's hidden size.
        """
        input_ids = np.asarray([ids], dtype=np.int64)
        mask = [1] * len(ids)
        feeds = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        hidden = self.session.run([self.output], feeds)[0]
        self.runs += 1
        if hidden.shape[-1] != self.hidden_size:
            raise SetupError(f"The encoder gives vectors of {hidden.shape[-1]} values but the "
                             f"manifest says {self.hidden_size}. Run `make model` again.")
        vector = l2_normalize(mean_pool(hidden.reshape(-1).tolist(), mask, self.hidden_size))
        return np.asarray(vector, dtype=np.float32)
