using DeepArch.MLNet.Evaluation;
using DeepArch.MLNet.Schema;
using DeepArch.MLNet.Transforms;
using Microsoft.ML;

namespace DeepArch.MLNet;

public static partial class DeepArchCatalog
{
    /// <summary>
    /// Trains an encoder–decoder that maps the token sequence in <paramref name="inputColumnName"/> to the one in
    /// <paramref name="targetColumnName"/> (both vectors of keys), and returns a transformer that adds <paramref name="outputColumnName"/>,
    /// the decoded sequence as keys of the target's type, and <c>Score</c> (see <see cref="SequenceToSequenceEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column of decoded sequences the transformer adds.</param>
    /// <param name="inputColumnName">The source sequences: a vector of keys.</param>
    /// <param name="targetColumnName">The target sequences to learn: a vector of keys.</param>
    /// <param name="epochs">Passes over the training rows.</param>
    public static SequenceToSequenceEstimator MapSequenceToSequence(this TransformsCatalog catalog, string outputColumnName = "PredictedSequence",
        string inputColumnName = "Source", string targetColumnName = "Target", int epochs = 10)
        => catalog.MapSequenceToSequence(new SequenceToSequenceEstimator.Options
        {
            OutputColumnName = outputColumnName,
            InputColumnName = inputColumnName,
            TargetColumnName = targetColumnName,
            Epochs = epochs,
        });

    /// <summary>Trains an encoder–decoder with every option (cell, sizes, attention, lengths, training).</summary>
    public static SequenceToSequenceEstimator MapSequenceToSequence(this TransformsCatalog catalog, SequenceToSequenceEstimator.Options options)
        => new(CatalogEnvironment.Of(catalog), options);

    /// <summary>
    /// Compares the sequences of <paramref name="predictedColumnName"/> with those of <paramref name="labelColumnName"/> (vectors of keys of
    /// the same key count, as <c>MapSequenceToSequence</c>'s output and its target have): sequence accuracy, token error rate by edit
    /// distance, and both per reference length (see <see cref="SequenceMetrics"/>).
    /// </summary>
    /// <param name="catalog">The data operations catalog.</param>
    /// <param name="data">Scored data holding both columns.</param>
    /// <param name="labelColumnName">The reference sequences.</param>
    /// <param name="predictedColumnName">The predicted sequences.</param>
    public static SequenceMetrics EvaluateSequences(this DataOperationsCatalog catalog, IDataView data, string labelColumnName = "Target",
        string predictedColumnName = "PredictedSequence")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return SequenceEvaluator.Evaluate(data, labelColumnName, predictedColumnName);
    }
}
