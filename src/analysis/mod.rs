//! What a trained model gets wrong on the test set: the confusion matrix, per-class accuracy,
//! precision and recall, and the misclassified images of each cell, most confident first.

use crate::data::Dataset;
use crate::model::Compute;
use crate::train::{predict, Prediction};
use crate::Result;
use serde::Serialize;
use std::path::Path;

/// One class's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassFigures {
    /// Test images of this class.
    pub count: usize,
    /// Of them, predicted right (the class's accuracy, which is its recall).
    pub accuracy: f64,
    /// Of the images predicted as this class, the fraction that are.
    pub precision: f64,
    /// Of this class's images, the fraction predicted as it.
    pub recall: f64,
}

/// A model's analysis on the test set.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The class names, by label.
    pub names: Vec<String>,
    /// Counts: row = true class, column = predicted class.
    pub confusion: Vec<Vec<usize>>,
    /// Per class, in class order.
    pub classes: Vec<ClassFigures>,
    /// Every test image's prediction, in test-set order.
    pub predictions: Vec<Prediction>,
}

impl Analysis {
    /// The analysis of a list of predictions over the classes `names` (by label).
    pub fn from_predictions(predictions: Vec<Prediction>, names: Vec<String>) -> Self {
        let k = names.len().max(1);
        let mut confusion = vec![vec![0usize; k]; k];
        for p in &predictions {
            confusion[p.label as usize % k][p.predicted as usize % k] += 1;
        }
        let classes = (0..k).map(|c| {
            let row: usize = confusion[c].iter().sum();
            let column: usize = confusion.iter().map(|r| r[c]).sum();
            let hit = confusion[c][c];
            let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
            ClassFigures {
                count: row,
                accuracy: ratio(hit, row),
                precision: ratio(hit, column),
                recall: ratio(hit, row),
            }
        });
        let classes = classes.collect();
        Analysis {
            names,
            confusion,
            classes,
            predictions,
        }
    }

    /// Classes.
    pub fn k(&self) -> usize {
        self.confusion.len()
    }

    /// Images analysed.
    pub fn count(&self) -> usize {
        self.predictions.len()
    }

    /// Fraction predicted right.
    pub fn accuracy(&self) -> f64 {
        let hits: usize = (0..self.k()).map(|c| self.confusion[c][c]).sum();
        hits as f64 / self.count().max(1) as f64
    }

    /// The images of true class `label` predicted as `predicted`, most confident first.
    pub fn cell(&self, label: usize, predicted: usize) -> Vec<Prediction> {
        let mut out: Vec<Prediction> = self
            .predictions
            .iter()
            .filter(|p| p.label as usize == label && p.predicted as usize == predicted)
            .copied()
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out
    }

    /// As JSON: `confusion` (rows of counts, row = true class), `classes` (name, count,
    /// accuracy, precision, recall), `accuracy`, `count`.
    pub fn to_json(&self) -> serde_json::Value {
        let classes: Vec<serde_json::Value> = self
            .classes
            .iter()
            .zip(&self.names)
            .map(|(f, name)| {
                serde_json::json!({
                    "name": name,
                    "count": f.count,
                    "accuracy": f.accuracy,
                    "precision": f.precision,
                    "recall": f.recall,
                })
            })
            .collect();
        serde_json::json!({
            "confusion": self.confusion,
            "classes": classes,
            "accuracy": self.accuracy(),
            "count": self.count(),
        })
    }
}

/// Analyses a run folder's model on the test set, with the run's settings as they ended (its
/// test-time augmentation included): its saved model, or its newest checkpoint while it
/// trains or when it was killed (`runs::run_weights`). Returns the step of the weights
/// analysed, and `None` when `stop` asked to stop.
pub fn analyze_run(
    run_dir: &Path,
    data: &Dataset,
    compute: &Compute,
    stop: &dyn Fn() -> bool,
) -> Result<Option<(usize, Analysis)>> {
    let config = crate::runs::StoredRun::load(run_dir)?.state().config;
    let weights = crate::runs::run_weights(run_dir, crate::runs::Prefer::Saved)?;
    let mut net = crate::train::inference::network_with(
        &config,
        data.shape,
        weights.tensors,
        &weights.origin,
        compute,
    )?;
    Ok(
        predict(net.as_mut(), data, &data.test, compute, config.tta, stop)?.map(|p| {
            let names = data.class_names.clone();
            (weights.step, Analysis::from_predictions(p, names))
        }),
    )
}
