"""The Python twin of the page: ``python -m tinybert`` embeds labelled files with the page's own
INT8 encoder file (native onnxruntime), trains the page's head with the page's trainer and
settings, evaluates it and writes it as the page's safetensors head file.

Everything that decides a result is the page's own code, imported from ``tinybert_core``: the
tokenizer (built from the model's tokenizer.json), pooling, the file import, the trainer,
metrics and the head file. Only the encoder runtime (onnxruntime in place of
onnxruntime-web), the embedding cache and the command line are this package's.
"""
