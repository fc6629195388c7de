"""Standardize the features with statistics from the training set only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from common import TARGET, params

p = params("featurize")
train = pd.read_parquet("data/prepared/train.parquet")
test = pd.read_parquet("data/prepared/test.parquet")
features = [c for c in train.columns if c != TARGET]
if p["scale"]:
    mean, std = train[features].mean(), train[features].std(ddof=0)
    train[features] = (train[features] - mean) / std
    test[features] = (test[features] - mean) / std
Path("data/features").mkdir(parents=True, exist_ok=True)
train.to_parquet("data/features/train.parquet", index=False)
test.to_parquet("data/features/test.parquet", index=False)
print(f"{len(features)} features")
