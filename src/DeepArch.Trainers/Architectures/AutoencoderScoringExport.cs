using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using AutoencoderModule = DeepArch.Trainers.Architectures.AutoencoderSpec.AutoencoderModule;

namespace DeepArch.Trainers.Architectures;

/// <summary>
/// One ONNX graph with everything an autoencoder's anomaly detector or featurizer reads, from one
/// <c>Run</c>: the reconstruction, the code, each feature's squared error and a per-row score, all
/// computed from the same trained parameters as <see cref="Network.ExportOnnx(string, string, IReadOnlyDictionary{string, string})"/>.
/// </summary>
public static class AutoencoderScoringExport
{
    /// <summary>The reconstruction, [batch, ..input shape].</summary>
    public const string ReconstructionOutput = "Reconstruction";

    /// <summary>The code (a variational encoder's mean), [batch, ..code shape].</summary>
    public const string CodeOutput = "Code";

    /// <summary>Each feature's squared error <c>((x - x̂) / scale)^2</c>, [batch, ..input shape].</summary>
    public const string FeatureErrorOutput = "FeatureError";

    /// <summary>The per-row score, [batch, 1] (a [1] vector: ML.NET's OnnxTransformer cannot read scalar outputs); NaN for a row whose input holds NaN or infinity.</summary>
    public const string ScoreOutput = "Score";

    /// <summary>
    /// 1 where <see cref="ScoreOutput"/> is above the threshold or NaN (a row with missing values), else 0, [batch, 1]; present when a threshold is given
    /// (the anomaly detector's PredictedLabel, computed in the graph so that a saved model needs no state outside it).
    /// </summary>
    public const string AnomalyOutput = "Anomaly";

    /// <summary>
    /// Each feature's share of the row's summed feature error, [batch, ..input shape] (summing to 1; all 0 for a
    /// perfect reconstruction); present when asked for.
    /// </summary>
    public const string FeatureShareOutput = "FeatureShare";

    /// <summary>Writes the scoring graph of a trained autoencoder.</summary>
    /// <param name="autoencoder">A network whose architecture is an <see cref="AutoencoderSpec"/> over one-dimensional inputs.</param>
    /// <param name="inputName">The graph input's name.</param>
    /// <param name="score">What <see cref="ScoreOutput"/> measures.</param>
    /// <param name="featureScale">Per-feature divisors of the error (e.g. the training error's standard deviations), each positive and finite; null for none.</param>
    /// <param name="metadata">Extra string metadata stored in the model.</param>
    /// <param name="threshold">When given (finite), the graph also outputs <see cref="AnomalyOutput"/>: the score compared with it.</param>
    /// <param name="featureShares">Whether the graph also outputs <see cref="FeatureShareOutput"/>.</param>
    public static byte[] ExportScoringOnnx(this Network autoencoder, string inputName, AutoencoderScore score = AutoencoderScore.ReconstructionError,
        IReadOnlyList<float>? featureScale = null, IReadOnlyDictionary<string, string>? metadata = null, float? threshold = null, bool featureShares = false)
    {
        ArgumentNullException.ThrowIfNull(autoencoder);
        return ExportScoringOnnx([autoencoder], inputName, score, featureScale is null ? null : [featureScale], metadata, threshold, featureShares);
    }

    /// <summary>
    /// Writes the scoring graph of an ensemble of trained autoencoders of the same input: each member's score as
    /// <see cref="ExportScoringOnnx(Network, string, AutoencoderScore, IReadOnlyList{float}?, IReadOnlyDictionary{string, string}?, float?, bool)"/>
    /// computes it (with its own feature scale), and <see cref="ScoreOutput"/> their mean; <see cref="ReconstructionOutput"/> and
    /// <see cref="FeatureErrorOutput"/> are the members' means too, and <see cref="FeatureShareOutput"/> the shares of the mean
    /// feature error. An ensemble of several has no <see cref="CodeOutput"/> (the members' codes are not comparable); an ensemble
    /// of one is exactly the single autoencoder's graph.
    /// </summary>
    /// <param name="autoencoders">The members, at least one, each an <see cref="AutoencoderSpec"/> over the same one-dimensional input.</param>
    /// <param name="inputName">The graph input's name.</param>
    /// <param name="score">What each member's score measures.</param>
    /// <param name="featureScales">Each member's per-feature divisors of its error, or null for none.</param>
    /// <param name="metadata">Extra string metadata stored in the model.</param>
    /// <param name="threshold">When given (finite), the graph also outputs <see cref="AnomalyOutput"/>: the mean score compared with it.</param>
    /// <param name="featureShares">Whether the graph also outputs <see cref="FeatureShareOutput"/>.</param>
    public static byte[] ExportScoringOnnx(this IReadOnlyList<Network> autoencoders, string inputName, AutoencoderScore score = AutoencoderScore.ReconstructionError,
        IReadOnlyList<IReadOnlyList<float>?>? featureScales = null, IReadOnlyDictionary<string, string>? metadata = null, float? threshold = null, bool featureShares = false)
    {
        CheckThreshold(threshold);
        ArgumentNullException.ThrowIfNull(autoencoders);
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        if (autoencoders.Count == 0)
        {
            throw new ArgumentException("An ensemble needs at least one autoencoder.", nameof(autoencoders));
        }
        if (featureScales is not null && featureScales.Count != autoencoders.Count)
        {
            throw new ArgumentException($"Expected one feature scale (or null) per autoencoder ({autoencoders.Count}), got {featureScales.Count}.", nameof(featureScales));
        }
        if (!Enum.IsDefined(score))
        {
            throw new ArgumentOutOfRangeException(nameof(score), score, "Unknown autoencoder score.");
        }
        var first = autoencoders[0];
        foreach (var autoencoder in autoencoders)
        {
            ArgumentNullException.ThrowIfNull(autoencoder, nameof(autoencoders));
            if (autoencoder.Architecture is not AutoencoderSpec spec || autoencoder.InputShape.Count != 1)
            {
                throw new ArgumentException(
                    $"A scoring graph needs an autoencoder over one-dimensional inputs; this network is {autoencoder.Architecture.Describe()} on {Shapes.Format(autoencoder.InputShape)}.", nameof(autoencoders));
            }
            if (!autoencoder.InputShape.SequenceEqual(first.InputShape))
            {
                throw new ArgumentException($"The members of an ensemble read the same input; {Shapes.Format(autoencoder.InputShape)} is not {Shapes.Format(first.InputShape)}.", nameof(autoencoders));
            }
            if (score == AutoencoderScore.NegativeElbo && !spec.Variational)
            {
                throw new ArgumentException("The negative ELBO needs a variational autoencoder (Autoencoder.CreateVariational).", nameof(autoencoders));
            }
        }
        int features = first.InputShape[0];
        foreach (var featureScale in featureScales ?? [])
        {
            if (featureScale is not null && (featureScale.Count != features || featureScale.Any(s => !(s > 0) || float.IsInfinity(s))))
            {
                throw new ArgumentException($"The feature scale needs {features} positive finite values; got {featureScale.Count}.", nameof(featureScales));
            }
        }

        var graph = new OnnxGraphBuilder();
        string input = graph.AddInput(inputName, first.InputShape);
        // Created on first use: an initializer no node reads makes ONNX Runtime log a warning per session.
        string? axisName = null;
        string Axis() => axisName ??= graph.AddInt64Initializer("axis", [1], 1);
        var members = autoencoders.Select((autoencoder, m) => EmitMember(graph, autoencoder, input, score, featureScales?[m], Axis)).ToList();
        string reconstruction, featureError, value;
        if (members.Count == 1)
        {
            (reconstruction, string code, featureError, value) = members[0];
            graph.AddOutput(reconstruction, ReconstructionOutput, first.OutputShape);
            graph.AddOutput(code, CodeOutput, ((AutoencoderSpec)first.Architecture).Encoder.ShapesThrough(first.InputShape)[^1]);
        }
        else
        {
            string inverse = graph.AddInitializer("ensemble_inverse_size", [1f / members.Count]);
            string Mean(Func<(string Reconstruction, string Code, string FeatureError, string Value), string> pick)
                => graph.AddNode("Mul", [members.Skip(1).Aggregate(pick(members[0]), (sum, member) => graph.AddNode("Add", [sum, pick(member)])), inverse]);
            reconstruction = Mean(m => m.Reconstruction);
            featureError = Mean(m => m.FeatureError);
            value = Mean(m => m.Value);
            graph.AddOutput(reconstruction, ReconstructionOutput, first.OutputShape);
        }
        graph.AddOutput(featureError, FeatureErrorOutput, first.InputShape);
        AddScoreOutputs(graph, input, value, standardization: null, threshold);
        if (featureShares)
        {
            // sum + tiny keeps a perfect reconstruction at 0 shares instead of 0/0.
            string total = graph.AddNode("Add", [graph.AddNode("ReduceSum", [featureError, Axis()], ("keepdims", 1L)), graph.AddInitializer("tiny", [1e-30f])]);
            graph.AddOutput(graph.AddNode("Div", [featureError, total]), FeatureShareOutput, first.InputShape);
        }
        return graph.ToModelBytes(first, metadata);
    }

    /// <summary>One autoencoder's nodes: its reconstruction, code, each feature's (scaled) squared error and its per-row score.</summary>
    private static (string Reconstruction, string Code, string FeatureError, string Value) EmitMember(OnnxGraphBuilder graph, Network autoencoder, string input,
        AutoencoderScore score, IReadOnlyList<float>? featureScale, Func<string> axis)
    {
        var spec = (AutoencoderSpec)autoencoder.Architecture;
        var module = (AutoencoderModule)autoencoder.Module;
        module.eval();
        var encoderShapes = spec.Encoder.ShapesThrough(autoencoder.InputShape);
        string hidden = input;
        for (int i = 0; i < spec.Encoder.Layers.Count - 1; i++)
        {
            hidden = spec.Encoder.Layers[i].EmitOnnx(graph, hidden, module.Encoder[i], encoderShapes[i]);
        }
        int last = spec.Encoder.Layers.Count - 1;
        string code = spec.Encoder.Layers[last].EmitOnnx(graph, hidden, module.Encoder[last], encoderShapes[last]);
        string reconstruction = spec.Decoder.EmitOnnx(graph, code, module.Decoder, encoderShapes[^1]);

        string difference = graph.AddNode("Sub", [input, reconstruction]);
        if (featureScale is not null)
        {
            difference = graph.AddNode("Div", [difference, graph.AddInitializer("feature_scale", featureScale.ToArray(), autoencoder.InputShape[0])]);
        }
        string featureError = graph.AddNode("Mul", [difference, difference]);
        string value = score == AutoencoderScore.ReconstructionError
            ? graph.AddNode("ReduceMean", [featureError], ("axes", new long[] { 1 }), ("keepdims", 1L))
            : graph.AddNode("Add", [graph.AddNode("ReduceSum", [featureError, axis()], ("keepdims", 1L)), EmitKl(graph, spec, module, hidden, code, encoderShapes[last], axis())]);
        return (reconstruction, code, featureError, value);
    }

    /// <summary><c>-1/2 sum_j (1 + logVar_j - mean_j^2 - exp(logVar_j))</c>, [batch, 1].</summary>
    private static string EmitKl(OnnxGraphBuilder graph, AutoencoderSpec spec, AutoencoderModule module, string hidden, string mean, IReadOnlyList<int> hiddenShape, string axis)
    {
        var meanLayer = (Dense)spec.Encoder.Layers[^1];
        var logVarianceLayer = new Dense(meanLayer.Units, meanLayer.UseBias);
        string logVariance = logVarianceLayer.EmitOnnx(graph, hidden, module.LogVariance!, hiddenShape);
        string one = graph.AddInitializer("one", [1f]);
        string terms = graph.AddNode("Sub",
            [graph.AddNode("Sub", [graph.AddNode("Add", [logVariance, one]), graph.AddNode("Mul", [mean, mean])]), graph.AddNode("Exp", [logVariance])]);
        return graph.AddNode("Mul", [graph.AddNode("ReduceSum", [terms, axis], ("keepdims", 1L)), graph.AddInitializer("minus_half", [-0.5f])]);
    }

    /// <summary>Throws unless the optional anomaly <paramref name="threshold"/> is finite.</summary>
    internal static void CheckThreshold(float? threshold)
    {
        if (threshold is { } t && !float.IsFinite(t))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), t, $"The threshold must be finite; got {t}.");
        }
    }

    /// <summary>Throws unless the optional <paramref name="standardization"/> has a finite mean and a positive finite standard deviation.</summary>
    internal static void CheckStandardization((float Mean, float Std)? standardization)
    {
        if (standardization is { } s && !(float.IsFinite(s.Mean) && s.Std > 0 && float.IsFinite(s.Std)))
        {
            throw new ArgumentOutOfRangeException(nameof(standardization), s, "The standardization needs a finite mean and a positive finite standard deviation.");
        }
    }

    /// <summary>
    /// The end every anomaly scoring graph shares: <paramref name="rawScore"/> [batch, 1] standardized as <c>(raw - Mean) / Std</c>
    /// when <paramref name="standardization"/> is given, made NaN where <paramref name="input"/> is not all finite, output as
    /// <see cref="ScoreOutput"/>, and with a <paramref name="threshold"/> compared into <see cref="AnomalyOutput"/>.
    /// </summary>
    internal static void AddScoreOutputs(OnnxGraphBuilder graph, string input, string rawScore, (float Mean, float Std)? standardization, float? threshold)
    {
        string value = rawScore;
        if (standardization is { } z)
        {
            value = graph.AddNode("Div", [graph.AddNode("Sub", [value, graph.AddInitializer("score_mean", [z.Mean])]), graph.AddInitializer("score_std", [z.Std])]);
        }
        value = NaNWhereInputIsNotFinite(graph, input, value);
        graph.AddOutput(value, ScoreOutput, [1]);
        if (threshold is { } limit)
        {
            graph.AddOutput(AnomalyFlag(graph, value, limit), AnomalyOutput, [1]);
        }
    }

    /// <summary>
    /// <paramref name="score"/> made NaN on the rows whose <paramref name="input"/> holds a NaN or an infinity: <c>x - x</c> is 0
    /// for every finite x and NaN otherwise, and its row mean is added to the score. Such a row's score cannot be computed,
    /// and what the kernels make of a NaN is no answer (ONNX Runtime's clamped activations turn it into finite values).
    /// </summary>
    internal static string NaNWhereInputIsNotFinite(OnnxGraphBuilder graph, string input, string score)
    {
        string flat = graph.AddNode("Flatten", [input], ("axis", 1L));
        string gaps = graph.AddNode("ReduceMean", [graph.AddNode("Sub", [flat, flat])], ("axes", new long[] { 1 }), ("keepdims", 1L));
        return graph.AddNode("Add", [score, gaps]);
    }

    /// <summary>
    /// 1 where <paramref name="score"/> is above <paramref name="threshold"/> or NaN, else 0 (float): a row whose score cannot
    /// be computed (NaN or infinite features, see <see cref="NaNWhereInputIsNotFinite"/>) is flagged rather than called
    /// normal, since NaN is above no threshold.
    /// </summary>
    internal static string AnomalyFlag(OnnxGraphBuilder graph, string score, float threshold)
    {
        string above = graph.AddNode("Greater", [score, graph.AddInitializer("threshold", [threshold])]);
        string flagged = graph.AddNode("Or", [above, graph.AddNode("IsNaN", [score])]);
        return graph.AddNode("Cast", [flagged], ("to", 1L));
    }
}
