"""Training the NLU's encoder outside rasa (Python 3.11 with torch): fine-tuning, calibration, export.

`make model` runs `python -m nlu_train` in .venv before `rasa train`; the rasa process never imports this
package (it has no torch). It reads nlu_data/ directly, writes safetensors that bot/minilm_onnx.py turns
into ONNX.
"""
