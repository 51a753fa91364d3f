

namespace DeepArch.MLNet;

/// <summary>
/// What the anomaly detectors do with the rows they trained on after training: run a scoring graph over
/// them in large batches (no IDataView pass) and pick the score threshold as an upper quantile.
/// </summary>
internal static class ThresholdScores
{
    /// <summary>Runs <paramref name="model"/> over <paramref name="rows"/> (row-major, <paramref name="inputSize"/> values each) and returns output <paramref name="output"/>.</summary>
    public static float[] Run(byte[] model, string input, float[] rows, int inputSize, string output, int width, ScoringSettings scoring)
    {
        float[] result = [];
        Run(model, input, [rows], inputSize, output, width, scoring, (_, outputs) => result = outputs); // one chunk: the array is not reused
        return result;
    }

    /// <summary>
    /// Runs <paramref name="model"/> over each chunk of rows in turn, with one session, and hands <paramref name="onChunk"/> each
    /// chunk with its outputs (an array reused from chunk to chunk: copy what is kept). A chunk of whole scoring batches
    /// (<see cref="ChunkRows"/>) is cut into the batches one array of the same rows would be, so the outputs are the same bits
    /// either way.
    /// </summary>
    public static void Run(byte[] model, string input, IEnumerable<float[]> chunks, int inputSize, string output, int width, ScoringSettings scoring,
        Action<float[], float[]> onChunk)
    {
        using var scorer = new OnnxScorer(model, input, inputSize, [(output, [width])], scoring);
        int batchSize = BatchSize(scoring);
        var batch = scorer.CreateBatch(batchSize);
        var buffer = new float[batchSize * inputSize];
        float[] result = [];
        foreach (float[] rows in chunks)
        {
            int count = rows.Length / inputSize;
            if (result.Length != count * width)
            {
                result = new float[count * width];
            }
            for (int start = 0; start < count; start += batchSize)
            {
                int size = Math.Min(batchSize, count - start);
                Array.Copy(rows, start * inputSize, buffer, 0, size * inputSize);
                scorer.Run(buffer, size, batch);
                Array.Copy(batch.Outputs[0], 0, result, start * width, size * width);
            }
            onChunk(rows, result);
        }
    }

    /// <summary>The bytes of streamed rows scored at a time (<see cref="ChunkRows"/>): 16 MiB; tests lower it to cut small data into several chunks.</summary>
    internal static long ChunkBytes { get; set; } = 16L << 20;

    /// <summary>The rows per chunk of streamed rows of <paramref name="inputSize"/> values: whole scoring batches, about <see cref="ChunkBytes"/> (one batch at least).</summary>
    public static int ChunkRows(int inputSize, ScoringSettings scoring)
    {
        int batchSize = BatchSize(scoring);
        return (int)Math.Max(1, ChunkBytes / sizeof(float) / inputSize / batchSize) * batchSize;
    }

    private static int BatchSize(ScoringSettings scoring) => Math.Max(scoring.BatchSize, 256);

    /// <summary>The smallest score t with at most <paramref name="fraction"/> of <paramref name="scores"/> above it.</summary>
    public static float UpperQuantile(float[] scores, double fraction)
    {
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        int index = Math.Clamp((int)Math.Ceiling((1 - fraction) * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[index];
    }

    /// <summary>Throws when the threshold needs validation scores but <c>Fit</c> got no validation data.</summary>
    /// <param name="source">How the threshold is chosen.</param>
    /// <param name="validationGiven">Whether <c>Fit(trainData, validationData)</c> was called.</param>
    /// <param name="rows">What the detector's rows are, for the message (rows, windows).</param>
    public static void RequireValidation(AnomalyThresholdSource source, bool validationGiven, string rows)
    {
        if (!validationGiven && source == AnomalyThresholdSource.ValidationFalsePositiveRate)
        {
            throw new InvalidOperationException(
                $"Options.ThresholdSource is ValidationFalsePositiveRate but there is no validation data: call Fit(trainData, validationData) with normal {rows}, " +
                "or choose Contamination or Explicit.");
        }
    }

    /// <summary>The threshold <paramref name="source"/> asks for: as given, the training scores' upper quantile, or the validation scores'.</summary>
    public static float Choose(AnomalyThresholdSource source, float? given, double contamination, double falsePositiveRate,
        Func<float[]> trainScores, Func<float[]> validationScores) => source switch
    {
        AnomalyThresholdSource.Explicit => given!.Value,
        AnomalyThresholdSource.Contamination => UpperQuantile(trainScores(), contamination),
        _ => UpperQuantile(validationScores(), falsePositiveRate),
    };

    /// <summary>
    /// The training scores' mean and standard deviation, floored at a millionth of the mean (at least 1e-12) so that a perfect fit
    /// cannot divide by 0; with the standard deviation before the floor, and whether the floor was taken.
    /// </summary>
    private static (float Mean, float Std, double Deviation, bool Floored) Moments(float[] scores)
    {
        double mean = scores.Average(s => (double)s);
        double std = Math.Sqrt(scores.Average(s => (s - mean) * (s - mean)));
        double floor = Math.Max(1e-12, 1e-6 * Math.Abs(mean));
        return ((float)mean, (float)Math.Max(std, floor), std, std <= floor);
    }

    /// <summary>
    /// The standardization and threshold of a window detector's score, from its unstandardized scoring graph <paramref name="rawModel"/>
    /// (output <c>Score</c>): the training windows' scores give the mean and standard deviation, and the threshold is chosen on the
    /// standardized training or validation scores, standardized exactly as the final graph does it (float subtract, then divide).
    /// </summary>
    public static ((float Mean, float Std) Standardization, float Threshold) Calibrate(byte[] rawModel, string input, int windowSize, float[] trainWindows,
        Func<float[]> validationWindows, ScoringSettings scoring, AnomalyThresholdSource source, float? given, double contamination, double falsePositiveRate,
        Action<string>? warn = null)
    {
        float[] Scores(float[] windows) => Run(rawModel, input, windows, windowSize, DeepArch.Trainers.Architectures.ForecasterScoringExport.ScoreOutput, 1, scoring);
        float[] rawScores = Scores(trainWindows);
        var (mean, std, spread, floored) = Moments(rawScores);
        var standardization = (Mean: mean, Std: std);
        if (floored)
        {
            // Standardization then divides by its floor: Score comes out in units of a millionth of the mean, where any difference looks huge.
            warn?.Invoke($"the {rawScores.Length} training window{(rawScores.Length == 1 ? "" : "s")} score almost the same (mean {standardization.Mean:G4}, standard deviation {spread:G4}), " +
                "so Score is standardized by a floor (a millionth of their mean, at least 1e-12) and any other window's score looks huge: train on more, varied windows.");
        }
        float[] Standardized(float[] raw) => raw.Select(s => (s - standardization.Mean) / standardization.Std).ToArray();
        float threshold = Choose(source, given, contamination, falsePositiveRate, () => Standardized(rawScores), () => Standardized(Scores(validationWindows())));
        return (standardization, threshold);
    }
}
