using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// The scoring graph of a forecaster used as an anomaly detector (seed 000: a predictor <c>y_{n+1} = f(y_1..y_n)</c> whose
/// error or variance grows on data unlike its training data). The graph reads a whole window — the context steps the
/// network reads, followed by the steps it forecasts — and outputs the forecast, a per-row score and, given a threshold,
/// the anomaly flag, from one <c>Run</c>.
/// </summary>
/// <remarks>
/// Monte-Carlo dropout here uses a fixed set of dropout masks drawn once from a seed when the graph is written, applied to
/// the recurrent summary (the input of the dense head): the recurrent layers run once per row and only the head runs once
/// per pass, and the same window always gets the same score (a deterministic ensemble of thinned heads rather than fresh
/// random masks per call).
/// </remarks>
public static class ForecasterScoringExport
{
    /// <summary>The forecast of the window's last steps, [batch, forecast values] (the Monte-Carlo mean with <see cref="ForecastScore.PredictiveVariance"/>).</summary>
    public const string ForecastOutput = "Forecast";

    /// <summary>The per-row score, [batch, 1], optionally standardized; NaN for a window that holds NaN or infinity.</summary>
    public const string ScoreOutput = AutoencoderScoringExport.ScoreOutput;

    /// <summary>1 where the score is above the threshold or NaN, else 0, [batch, 1]; present when a threshold is given.</summary>
    public const string AnomalyOutput = AutoencoderScoringExport.AnomalyOutput;

    /// <summary>Writes the scoring graph of a trained forecaster.</summary>
    /// <param name="forecaster">
    /// A network over one-dimensional inputs (the context: <c>steps x features</c> values) whose output is the forecast.
    /// <see cref="ForecastScore.PredictiveVariance"/> needs a <see cref="Sequential"/> whose second layer is a <see cref="Dropout"/>
    /// (after the recurrent layer, as <see cref="RecurrentNetwork.CreateForecaster"/> builds it with dropout).
    /// </param>
    /// <param name="inputName">The graph input's name: the window, the context followed by the forecast steps' actual values.</param>
    /// <param name="score">What the score measures.</param>
    /// <param name="monteCarloPasses">With <see cref="ForecastScore.PredictiveVariance"/>: the number of dropout masks (at least 2).</param>
    /// <param name="seed">With <see cref="ForecastScore.PredictiveVariance"/>: the seed of the dropout masks.</param>
    /// <param name="standardization">When given, the score is <c>(raw - Mean) / Std</c>: the training scores' mean and standard deviation (Std positive).</param>
    /// <param name="threshold">When given (finite), the graph also outputs <see cref="AnomalyOutput"/>.</param>
    /// <param name="metadata">Extra string metadata stored in the model.</param>
    public static byte[] ExportForecastScoringOnnx(this Network forecaster, string inputName, ForecastScore score = ForecastScore.PredictionError,
        int monteCarloPasses = 20, int seed = 0, (float Mean, float Std)? standardization = null, float? threshold = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(forecaster);
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        if (forecaster.InputShape.Count != 1 || forecaster.OutputShape.Count != 1)
        {
            throw new ArgumentException(
                $"A forecaster reads and writes flat vectors; this network maps {Shapes.Format(forecaster.InputShape)} to {Shapes.Format(forecaster.OutputShape)}.", nameof(forecaster));
        }
        if (!Enum.IsDefined(score))
        {
            throw new ArgumentOutOfRangeException(nameof(score), score, "Unknown forecast score.");
        }
        AutoencoderScoringExport.CheckThreshold(threshold);
        AutoencoderScoringExport.CheckStandardization(standardization);
        int context = forecaster.InputShape[0], forecastValues = forecaster.OutputShape[0];

        var graph = new OnnxGraphBuilder();
        string window = graph.AddInput(inputName, [context + forecastValues]);
        string axis1 = graph.AddInt64Initializer("axis1", [1], 1);
        string contextValues = graph.AddNode("Slice", [window, graph.AddInt64Initializer("start", [0], 1), graph.AddInt64Initializer("end", [context], 1), axis1]);
        string actual = graph.AddNode("Slice", [window, graph.AddInt64Initializer("start", [context], 1),
            graph.AddInt64Initializer("end", [context + forecastValues], 1), axis1]);

        string forecast, raw;
        forecaster.Module.eval();
        if (score == ForecastScore.PredictionError)
        {
            forecast = forecaster.Architecture.EmitOnnx(graph, contextValues, forecaster.Module, forecaster.InputShape);
            string difference = graph.AddNode("Sub", [forecast, actual]);
            raw = graph.AddNode("ReduceMean", [graph.AddNode("Mul", [difference, difference])], ("axes", new long[] { 1 }), ("keepdims", 1L));
        }
        else
        {
            if (monteCarloPasses < 2)
            {
                throw new ArgumentOutOfRangeException(nameof(monteCarloPasses), monteCarloPasses, "Monte-Carlo dropout needs at least 2 passes.");
            }
            (forecast, raw) = EmitMonteCarlo(graph, forecaster, contextValues, monteCarloPasses, seed);
        }

        graph.AddOutput(forecast, ForecastOutput, [forecastValues]);
        AutoencoderScoringExport.AddScoreOutputs(graph, window, raw, standardization, threshold);
        return graph.ToModelBytes(forecaster, metadata, inputShape: [context + forecastValues]);
    }

    /// <summary>The name of a stepwise scorer's per-step errors output: float [batch, steps - 1], each predicted step's mean squared error.</summary>
    public const string StepErrorsOutput = "StepErrors";

    /// <summary>
    /// Writes a many-to-many forecaster (it reads steps 1..T-1 of a window and predicts steps 2..T, each from the steps before it)
    /// as a window scorer: input <paramref name="inputName"/> [batch, T * F]; outputs <see cref="StepErrorsOutput"/>, <see cref="ScoreOutput"/>
    /// (the largest step error, standardized by <paramref name="standardization"/> when given; NaN for a window that is not all finite)
    /// and, with a <paramref name="threshold"/>, <see cref="AnomalyOutput"/>.
    /// </summary>
    /// <param name="forecaster">The network: input [(T - 1) * F], output [(T - 1) * F].</param>
    /// <param name="inputName">The window input's name.</param>
    /// <param name="features">Values per step, F.</param>
    /// <param name="standardization">The training scores' mean and standard deviation; null leaves the score raw.</param>
    /// <param name="threshold">The standardized score above which a window is flagged; null adds no flag.</param>
    /// <param name="metadata">Extra string metadata stored in the model.</param>
    public static byte[] ExportStepwiseScoringOnnx(this Network forecaster, string inputName, int features, (float Mean, float Std)? standardization = null,
        float? threshold = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(forecaster);
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        if (forecaster.InputShape.Count != 1 || forecaster.OutputShape.Count != 1 || forecaster.InputShape[0] != forecaster.OutputShape[0]
            || features < 1 || forecaster.InputShape[0] % features != 0)
        {
            throw new ArgumentException(
                $"A stepwise forecaster predicts each of its input steps' successor: it maps [(T - 1) * {features}] to the same; this network maps " +
                $"{Shapes.Format(forecaster.InputShape)} to {Shapes.Format(forecaster.OutputShape)}.", nameof(forecaster));
        }
        AutoencoderScoringExport.CheckThreshold(threshold);
        AutoencoderScoringExport.CheckStandardization(standardization);
        int context = forecaster.InputShape[0], steps = context / features;
        var graph = new OnnxGraphBuilder();
        string window = graph.AddInput(inputName, [context + features]);
        string axis1 = graph.AddInt64Initializer("axis1", [1], 1);
        string inputs = graph.AddNode("Slice", [window, graph.AddInt64Initializer("start", [0], 1), graph.AddInt64Initializer("end", [context], 1), axis1]);
        string actual = graph.AddNode("Slice", [window, graph.AddInt64Initializer("start", [features], 1), graph.AddInt64Initializer("end", [context + features], 1), axis1]);
        forecaster.Module.eval();
        string predicted = forecaster.Architecture.EmitOnnx(graph, inputs, forecaster.Module, forecaster.InputShape);
        string difference = graph.AddNode("Sub", [predicted, actual]);
        string squared = graph.AddNode("Reshape", [graph.AddNode("Mul", [difference, difference]), graph.AddInt64Initializer("step_shape", [0, steps, features], 3)]);
        string stepErrors = graph.AddNode("ReduceMean", [squared], ("axes", new long[] { 2 }), ("keepdims", 0L));
        graph.AddOutput(stepErrors, StepErrorsOutput, [steps]);
        AutoencoderScoringExport.AddScoreOutputs(graph, window, graph.AddNode("ReduceMax", [stepErrors], ("axes", new long[] { 1 }), ("keepdims", 1L)),
            standardization, threshold);
        return graph.ToModelBytes(forecaster, metadata, inputShape: [context + features]);
    }

    /// <summary>
    /// The Monte-Carlo dropout masks: <paramref name="passes"/> rows of <paramref name="units"/> values, each 0 with probability
    /// <paramref name="rate"/> and <c>1 / (1 - rate)</c> otherwise (inverted dropout, as in training), drawn from <paramref name="seed"/>.
    /// </summary>
    public static float[] DropoutMasks(int passes, int units, float rate, int seed)
    {
        var random = new Random(seed);
        float keep = 1f / (1f - rate);
        var masks = new float[passes * units];
        for (int i = 0; i < masks.Length; i++)
        {
            masks[i] = random.NextDouble() < rate ? 0f : keep;
        }
        return masks;
    }

    private static (string Forecast, string Raw) EmitMonteCarlo(OnnxGraphBuilder graph, Network forecaster, string context, int passes, int seed)
    {
        if (forecaster.Architecture is not Sequential { Layers.Count: >= 3 } sequential || sequential.Layers[1] is not Dropout { Rate: > 0 } dropout)
        {
            throw new ArgumentException(
                "Monte-Carlo dropout needs a forecaster whose second layer is a Dropout with a rate above 0 (RecurrentNetwork.CreateForecaster with dropout > 0); " +
                $"this network is {forecaster.Architecture.Describe()}.", nameof(forecaster));
        }
        var chain = (Sequential.SequentialModule)forecaster.Module;
        var shapes = sequential.ShapesThrough(forecaster.InputShape);
        if (shapes[1].Length != 1)
        {
            throw new ArgumentException($"Monte-Carlo dropout needs a vector summary before the head; the first layer outputs {Shapes.Format(shapes[1])}.", nameof(forecaster));
        }
        int units = shapes[1][0], outputs = shapes[^1][0];
        string summary = sequential.Layers[0].EmitOnnx(graph, context, chain[0], shapes[0]);
        string masks = graph.AddInitializer("mc_dropout_masks", DropoutMasks(passes, units, dropout.Rate, seed), passes, 1, units);
        // [1, B, U] * [K, 1, U] -> [K, B, U] -> [K*B, U]: every row through every thinned head in one batch.
        string expanded = graph.AddNode("Mul", [graph.AddNode("Unsqueeze", [summary, graph.AddInt64Initializer("axis0", [0], 1)]), masks]);
        string value = graph.AddNode("Reshape", [expanded, graph.AddInt64Initializer("shape", [-1, units], 2)]);
        for (int i = 2; i < sequential.Layers.Count; i++)
        {
            value = sequential.Layers[i].EmitOnnx(graph, value, chain[i], shapes[i]);
        }
        string stacked = graph.AddNode("Reshape", [value, graph.AddInt64Initializer("shape", [passes, -1, outputs], 3)]);
        string mean = graph.AddNode("ReduceMean", [stacked], ("axes", new long[] { 0 }), ("keepdims", 0L));
        string deviation = graph.AddNode("Sub", [stacked, mean]);
        string variance = graph.AddNode("ReduceMean", [graph.AddNode("Mul", [deviation, deviation])], ("axes", new long[] { 0 }), ("keepdims", 0L));
        string raw = graph.AddNode("ReduceMean", [variance], ("axes", new long[] { 1 }), ("keepdims", 1L));
        return (mean, raw);
    }
}
