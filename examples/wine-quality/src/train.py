"""Fit the classifier and save it."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
from common import TARGET, params, write_json
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

p = params("train")
train = pd.read_parquet("data/features/train.parquet")
X, y = train.drop(columns=[TARGET]), train[TARGET]
if p["model"] == "random_forest":
    model = RandomForestClassifier(
        n_estimators=p["n_estimators"], max_depth=p["max_depth"], random_state=p["seed"]
    )
else:
    model = LogisticRegression(max_iter=1000)
model.fit(X, y)
Path("models").mkdir(exist_ok=True)
Path("models/model.pkl").write_bytes(pickle.dumps(model))
write_json("metrics/train.json", {"train_accuracy": round(float(model.score(X, y)), 6)})
print(f"trained {p['model']}")
