using DeepArch.Trainers;
using DeepArch.Trainers.Architectures;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Training;
using Microsoft.ML.Runtime;

namespace DeepArch.MLNet;

/// <summary>
/// Trains a supervised stacked autoencoder (seed 003) with TorchSharp and returns a <see cref="NetworkTransformer"/>
/// that scores it with ONNX Runtime: greedy layer-wise pretraining — level k is a one-hidden-layer autoencoder
/// trained on the codes of level k-1, optionally denoising — whose encoders become the classifier's hidden
/// layers, then supervised fine-tuning of the stacked encoders and a dense head end to end (or of the head
/// alone when <see cref="Options.FineTuneEncoders"/> is false). Created by <c>StackedAutoencoder</c> in
/// <c>mlContext.MulticlassClassification.Trainers</c> and <c>BinaryClassification.Trainers</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Characteristic</term><description>Value</description></listheader>
/// <item><term>Trains in Fit</term><description>Yes (TorchSharp, CPU or CUDA): <see cref="Options.PretrainingEpochs"/> per level, then <c>Options.Epochs</c> of fine-tuning</description></item>
/// <item><term>Feature column</term><description><c>Single</c> or known-size vector of <c>Single</c>; scale it first (<c>NormalizeMinMax</c>: the levels reconstruct their inputs)</description></item>
/// <item><term>Label column</term><description>Multiclass: key (<c>MapValueToKey</c>); binary: <c>Boolean</c></description></item>
/// <item><term>Output columns</term><description>Multiclass: <c>Score</c> (class probabilities), <c>PredictedLabel</c> (key, label's key values);
/// binary: <c>Score</c> (logit), <c>Probability</c>, <c>PredictedLabel</c> (Boolean)</description></item>
/// <item><term>Network</term><description><c>Dense -> activation</c> per entry of <see cref="Options.HiddenLayers"/>, then a dense head (<see cref="StackedAutoencoder"/>)</description></item>
/// <item><term>Packages</term><description>DeepArch.MLNet (TorchSharp, libtorch-cpu-linux-x64, Microsoft.ML.OnnxRuntime)</description></item>
/// <item><term>GPU</term><description><c>Options.Device = Cuda</c> needs the GPU build (see README); falls back or throws as <c>FallbackToCpu</c> says</description></item>
/// </list>
/// Pretraining uses the shared options (batch size, learning rate, optimizer, schedule, seed, threads) with
/// <see cref="Options.PretrainingEpochs"/> epochs and no validation; validation, early stopping and
/// <c>Options.Progress</c> apply to fine-tuning, whose per-epoch history is the model's
/// <c>History</c>. Example and class weights (<c>ExampleWeightColumnName</c>, <c>BalanceClasses</c>, <c>ClassWeights</c>) weigh
/// every stage: each level's reconstruction loss and the fine-tuning loss. Training reads the feature and label columns into memory once; scoring streams.
/// The options are validated when the trainer is created and again when <c>Fit</c> starts, which reads them all
/// then (the pretraining options included): a change to <c>TrainerOptions</c> in between applies in full.
/// </remarks>
public sealed class StackedAutoencoderTrainer : SupervisedNetworkTrainer<StackedAutoencoderTrainer.Options>
{
    internal StackedAutoencoderTrainer(IHostEnvironment environment, Options options, TaskKind task)
        : base(environment, options, task, "StackedAutoencoder")
    {
    }

    /// <inheritdoc/>
    private protected override string? WarmStartRefusal
        => "its training is staged (layer-wise pretraining, then fine-tuning); continue a MultilayerPerceptron instead, or train it again.";

    /// <summary>Pretraining computes each layer's codes of every row, so the rows stay in memory.</summary>
    private protected override bool CanStream => false;

    private protected override NetworkPlan Plan(Options o, FitData data) => new(StackedAutoencoder.Create([data.InputSize, .. o.HiddenLayers], data.Task!.NetworkOutputs, o.Activation),
        new NetworkOptionNames($"Options.HiddenLayers {Shapes.Format(o.HiddenLayers)} on {data.InputSize} features", "Options.HiddenLayers"));

    /// <summary>Pretrains the levels, then fine-tunes; the history is the fine-tuning's.</summary>
    private protected override TrainingHistory Train(Options o, IReadOnlyList<Network> networks, FitData data, TrainingOptions fineTuning)
        => new LayerwisePretraining(Pretraining(fineTuning, o.PretrainingEpochs), fineTuning, data.Task!.Loss, o.PretrainingNoise, o.FineTuneEncoders)
            .Fit(networks[0], data.Train, cancellationToken: o.CancellationToken, validation: data.Validation, progress: o.Progress)
            .FineTuning;

    /// <summary>
    /// Each level's autoencoder training: the fine-tuning options with the pretraining epochs, and no validation; its epochs
    /// go to <c>mlContext.Log</c> as the fine-tuning's do, marked as pretraining.
    /// </summary>
    private static TrainingOptions Pretraining(TrainingOptions fineTuning, int epochs)
    {
        var options = PretrainingOptions(fineTuning, epochs);
        foreach (var log in fineTuning.Callbacks.OfType<LogProgress>())
        {
            options.Callbacks.Add(log.ForStage("pretraining level", epochs));
        }
        return options;
    }

    private static TrainingOptions PretrainingOptions(TrainingOptions fineTuning, int epochs) => new()
    {
        Epochs = epochs,
        BatchSize = fineTuning.BatchSize,
        LearningRate = fineTuning.LearningRate,
        WeightDecay = fineTuning.WeightDecay,
        Optimizer = fineTuning.Optimizer,
        Momentum = fineTuning.Momentum,
        Schedule = fineTuning.Schedule,
        Seed = fineTuning.Seed,
        Shuffle = fineTuning.Shuffle,
        Threads = fineTuning.Threads,
        Device = fineTuning.Device,
        FallbackToCpu = fineTuning.FallbackToCpu,
    };

    /// <summary>
    /// Options of <see cref="StackedAutoencoderTrainer"/>. <c>Options.Epochs</c> counts the
    /// fine-tuning epochs; <see cref="PretrainingEpochs"/> those of each level's autoencoder.
    /// </summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>
        /// Creates the options with the stacked autoencoder's defaults: 60 fine-tuning epochs at a learning rate of 1e-2 (pretraining
        /// too). On the digits (<c>eng/quality</c> <c>presets --settings digits-stacked --seeds 5</c>, docs/quality-presets-stacked.md)
        /// 1e-2 reached accuracy 0.9711 where 3e-3 reached 0.9644 and 1e-3 0.9317, every candidate on the same seeds (ML.NET's best on
        /// the digits, FastTree, 0.9685 in docs/quality.md). Measured on classification of ten classes; the binary trainer takes the same defaults.
        /// </summary>
        public Options()
        {
            Epochs = 60;
            LearningRate = 1e-2;
        }

        /// <summary>Each level's code size, bottom first (the classifier's hidden layers); at least one, each at least 1.</summary>
        public IReadOnlyList<int> HiddenLayers { get; set; } = [32, 16];

        /// <summary>Each level's code activation (seed 003's sigmoid by default).</summary>
        public ActivationKind Activation { get; set; } = ActivationKind.Sigmoid;

        /// <summary>Epochs of autoencoder training per level before fine-tuning; at least 1.</summary>
        public int PretrainingEpochs { get; set; } = 20;

        /// <summary>Standard deviation of the Gaussian noise added to each level's input during pretraining (stacked denoising autoencoders); finite, at least 0; 0 (default) adds none.</summary>
        public float PretrainingNoise { get; set; }

        /// <summary>Whether fine-tuning updates the pretrained encoders (true, default) or trains only the head on the pretrained codes (false).</summary>
        public bool FineTuneEncoders { get; set; } = true;

        internal override void Validate()
        {
            base.Validate();
            Check(CheckpointDirectory is null, nameof(CheckpointDirectory), $"'{CheckpointDirectory}'",
                "must be null: the stacked autoencoder trains in several stages, which checkpoints do not cover yet");
            Check(HiddenLayers is not null, nameof(HiddenLayers), "null", "must not be null");
            Check(HiddenLayers!.Count > 0 && HiddenLayers.All(h => h >= 1), nameof(HiddenLayers), $"[{string.Join(", ", HiddenLayers)}]",
                "must hold at least one level's code size, each at least 1");
            Check(Enum.IsDefined(Activation), nameof(Activation), Activation, "must be a defined ActivationKind");
            Check(PretrainingEpochs >= 1, nameof(PretrainingEpochs), PretrainingEpochs, "must be at least 1");
            Check(PretrainingNoise >= 0 && float.IsFinite(PretrainingNoise), nameof(PretrainingNoise), PretrainingNoise, "must be finite and at least 0");
        }

        private protected override void CopyLists()
        {
            base.CopyLists();
            HiddenLayers = HiddenLayers?.ToArray()!;
        }
    }
}
