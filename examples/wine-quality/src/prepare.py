"""Split the raw wine data into train and test sets (Parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from common import TARGET, params
from sklearn.model_selection import train_test_split

p = params("prepare")
raw = pd.read_csv("data/raw/wine.csv")
if p.get("bad_rows", 0):
    # Documented failure injection: impossible rows the validation gate must catch.
    bad = raw.head(int(p["bad_rows"])).copy()
    bad["alcohol"] = -1.0
    bad[TARGET] = 9
    raw = pd.concat([raw, bad], ignore_index=True)
train, test = train_test_split(
    raw, test_size=p["test_size"], random_state=p["seed"], stratify=raw[TARGET]
)
Path("data/prepared").mkdir(parents=True, exist_ok=True)
train.reset_index(drop=True).to_parquet("data/prepared/train.parquet", index=False)
test.reset_index(drop=True).to_parquet("data/prepared/test.parquet", index=False)
print(f"train rows: {len(train)}, test rows: {len(test)}")
