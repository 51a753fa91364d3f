"""scikit-learn's counterparts of DeepArch's defaults, on the splits DeepArch.Quality writes (eng/quality/README.md).

Usage: /usr/bin/python3 sklearn_quality.py TASK TRAIN.csv TEST.csv SEED

TASK is multiclass, binary, regression or anomaly. Each CSV holds the features, then the label (for anomaly: 1 = anomaly,
and only the test file's labels are read). Prints one JSON object per model on stdout: {"model": ..., metric: value, ...}.
Models, each with scikit-learn's defaults and random_state = SEED, as its documentation recommends them: MLPClassifier and
MLPRegressor after StandardScaler ("Multi-layer Perceptron is sensitive to feature scaling"), IsolationForest as it is.
Needs Debian's python3-sklearn (apt-get install python3-sklearn).
"""
import json
import sys
import warnings

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score, roc_auc_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def detection_rate_at_false_positives(scores, labels, false_positives=10):
    """ML.NET's DetectionRateAtFalsePositiveCount: the anomalies ranked above the (k+1)-th normal row, by score, over all anomalies."""
    order = np.argsort(-scores, kind="stable")
    found = normals = 0
    for i in order:
        if labels[i] == 1:
            found += 1
        else:
            normals += 1
            if normals > false_positives:
                break
    return found / max(1, int(labels.sum()))


def main():
    task, train_path, test_path, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    train = np.loadtxt(train_path, delimiter=",", ndmin=2)
    test = np.loadtxt(test_path, delimiter=",", ndmin=2)
    x, y, tx, ty = train[:, :-1], train[:, -1], test[:, :-1], test[:, -1]
    warnings.simplefilter("ignore", ConvergenceWarning)
    results = []
    if task in ("multiclass", "binary"):
        model = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed)).fit(x, y)
        probabilities = model.predict_proba(tx)
        result = {"model": "scikit-learn MLPClassifier (StandardScaler)", "accuracy": accuracy_score(ty, model.predict(tx)),
                  "log_loss": log_loss(ty, probabilities, labels=model.classes_)}
        if task == "binary":
            result["auc"] = roc_auc_score(ty, probabilities[:, 1])
        results.append(result)
    elif task == "regression":
        model = make_pipeline(StandardScaler(), MLPRegressor(random_state=seed)).fit(x, y)
        predicted = model.predict(tx)
        results.append({"model": "scikit-learn MLPRegressor (StandardScaler)", "r2": r2_score(ty, predicted),
                        "rmse": float(np.sqrt(mean_squared_error(ty, predicted)))})
    elif task == "anomaly":
        model = IsolationForest(random_state=seed).fit(x)
        scores = -model.score_samples(tx)  # higher = more anomalous
        results.append({"model": "scikit-learn IsolationForest", "auc": roc_auc_score(ty, scores),
                        "detection_at_10_fp": detection_rate_at_false_positives(scores, ty)})
    else:
        raise SystemExit(f"unknown task {task}")
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
