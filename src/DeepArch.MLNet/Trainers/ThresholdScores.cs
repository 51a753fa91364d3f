using DeepArch.MLNet.Scoring;

namespace DeepArch.MLNet.Trainers;

/// <summary>
/// What the anomaly detectors do with the rows they trained on after training: run a scoring graph over
/// them in large batches (no IDataView pass) and pick the score threshold as an upper quantile.
/// </summary>
internal static class ThresholdScores
{
    /// <summary>Runs <paramref name="model"/> over <paramref name="rows"/> (row-major, <paramref name="inputSize"/> values each) and returns output <paramref name="output"/>.</summary>
    public static float[] Run(byte[] model, string input, float[] rows, int inputSize, string output, int width, ScoringSettings scoring)
    {
        int count = rows.Length / inputSize;
        var result = new float[count * width];
        using var scorer = new OnnxScorer(model, input, inputSize, [(output, [width])], scoring);
        int batchSize = Math.Max(scoring.BatchSize, 256);
        var batch = scorer.CreateBatch(batchSize);
        var buffer = new float[batchSize * inputSize];
        for (int start = 0; start < count; start += batchSize)
        {
            int size = Math.Min(batchSize, count - start);
            Array.Copy(rows, start * inputSize, buffer, 0, size * inputSize);
            scorer.Run(buffer, size, batch);
            Array.Copy(batch.Outputs[0], 0, result, start * width, size * width);
        }
        return result;
    }

    /// <summary>The smallest score t with at most <paramref name="fraction"/> of <paramref name="scores"/> above it.</summary>
    public static float UpperQuantile(float[] scores, double fraction)
    {
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        int index = Math.Clamp((int)Math.Ceiling((1 - fraction) * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[index];
    }
}
