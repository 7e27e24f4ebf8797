"""Pure ML over arrays and files: no database, no Celery (checked by import-linter).

- ``device``: which device to compute on; mixed precision on CUDA.
- ``backbones``: the registry of pretrained feature extractors, and loading one.
- ``images``: decode one file into a model's input (draft JPEG decoding, any mode, EXIF).
- ``batches``: decode in threads, batches ahead of the model.
- ``runtime``: run a backbone on batches (onnxruntime on the CPU, torch on CUDA).
- ``embed``: files -> float16 feature vectors, with per-file errors.
- ``shards``: the on-disk embedding cache (float16 .npy shards).
- ``linear``: the fast probe (logistic regression on embeddings), cross-validation.
- ``finetune``: full fine-tuning with early stopping.
- ``classifier``: the fine-tuned model (backbone + head), its augmentation, predicting files.
- ``metrics``: accuracy, F1, confusion matrix in the run report's shape.
- ``export``: TorchScript / ONNX files and their preprocessing JSON.
- ``split``: a stratified hold-out split that copes with tiny classes.
- ``strategies``: active-learning query strategies.
"""
