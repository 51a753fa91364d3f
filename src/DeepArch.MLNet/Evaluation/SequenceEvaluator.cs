using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>How predicted sequences compare with the reference ones, overall and per reference length.</summary>
/// <param name="Count">The number of rows.</param>
/// <param name="SequenceAccuracy">The share of rows whose predicted sequence equals the reference exactly.</param>
/// <param name="TokenErrorRate">
/// The edit distance (insertions, deletions, substitutions) from each predicted sequence to its reference, summed over the rows,
/// divided by the reference tokens: the phoneme or word error rate of speech and translation work; it can exceed 1.
/// </param>
/// <param name="ByLength">The same figures for the rows of each reference length, by length.</param>
public sealed record SequenceMetrics(long Count, double SequenceAccuracy, double TokenErrorRate, IReadOnlyDictionary<int, SequenceLengthMetrics> ByLength)
{
    /// <summary>The share of rows whose predicted sequence differs from the reference: 1 - <see cref="SequenceAccuracy"/> (a word error rate when a row is one word).</summary>
    public double SequenceErrorRate => 1 - SequenceAccuracy;
}

/// <summary>The metrics of the rows whose reference has one length.</summary>
/// <param name="Count">The rows of this reference length.</param>
/// <param name="SequenceAccuracy">The share of them predicted exactly.</param>
/// <param name="TokenErrorRate">Their summed edit distance over their reference tokens.</param>
public sealed record SequenceLengthMetrics(long Count, double SequenceAccuracy, double TokenErrorRate);

/// <summary>Computes <see cref="SequenceMetrics"/> in one pass over a scored data view.</summary>
internal static class SequenceEvaluator
{
    public static SequenceMetrics Evaluate(IDataView data, string labelColumnName, string predictedColumnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        var label = data.Schema.GetColumnOrNull(labelColumnName);
        var labelKey = TokenVocabulary.Resolve(label, labelColumnName, "label");
        var predicted = data.Schema.GetColumnOrNull(predictedColumnName);
        var predictedKey = TokenVocabulary.Resolve(predicted, predictedColumnName, "predicted");
        if (labelKey.Count != predictedKey.Count)
        {
            throw SchemaErrors.Mismatch("predicted", predictedColumnName, $"a vector of keys with the label's key count ({labelKey.Count})", SchemaErrors.Describe(predicted!.Value.Type));
        }
        var lengths = new SortedDictionary<int, (long Rows, long Exact, long Edits, long Tokens)>();
        using (var cursor = data.GetRowCursor([label!.Value, predicted!.Value]))
        {
            var readLabel = TokenVocabulary.CreateKeyReader(cursor, label.Value);
            var readPredicted = TokenVocabulary.CreateKeyReader(cursor, predicted.Value);
            while (cursor.MoveNext())
            {
                var reference = readLabel().ToArray();
                var guess = readPredicted();
                int edits = EditDistance(reference, guess);
                lengths.TryGetValue(reference.Length, out var sums);
                lengths[reference.Length] = (sums.Rows + 1, sums.Exact + (edits == 0 ? 1 : 0), sums.Edits + edits, sums.Tokens + reference.Length);
            }
        }
        if (lengths.Count == 0)
        {
            throw new InvalidOperationException("The data has no rows to evaluate.");
        }
        static SequenceLengthMetrics Metrics((long Rows, long Exact, long Edits, long Tokens) s)
            => new(s.Rows, (double)s.Exact / s.Rows, s.Tokens > 0 ? (double)s.Edits / s.Tokens : s.Edits > 0 ? double.PositiveInfinity : 0);
        var total = lengths.Values.Aggregate((a, b) => (a.Rows + b.Rows, a.Exact + b.Exact, a.Edits + b.Edits, a.Tokens + b.Tokens));
        var overall = Metrics(total);
        return new SequenceMetrics(overall.Count, overall.SequenceAccuracy, overall.TokenErrorRate, lengths.ToDictionary(p => p.Key, p => Metrics(p.Value)));
    }

    /// <summary>The Levenshtein distance between two sequences, in O(|b|) memory.</summary>
    internal static int EditDistance(IReadOnlyList<uint> a, IReadOnlyList<uint> b)
    {
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int j = 0; j <= b.Count; j++)
        {
            previous[j] = j;
        }
        for (int i = 1; i <= a.Count; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Count; j++)
            {
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }
}
