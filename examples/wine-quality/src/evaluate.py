"""Score the model on the held-out test set."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
from common import TARGET, write_json
from sklearn.metrics import accuracy_score, f1_score

model = pickle.loads(Path("models/model.pkl").read_bytes())
test = pd.read_parquet("data/features/test.parquet")
X, y = test.drop(columns=[TARGET]), test[TARGET]
predicted = model.predict(X)
scores = {
    "accuracy": round(float(accuracy_score(y, predicted)), 6),
    "f1_macro": round(float(f1_score(y, predicted, average="macro")), 6),
    "test_rows": int(len(test)),
}
write_json("metrics/evaluate.json", scores)
print(scores)
