using System.Globalization;
using System.Text;
using DeepArch.Trainers.Layers;
using DeepArch.Trainers.Onnx;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace DeepArch.Trainers.Networks;

/// <summary>
/// A network: a layer specification, the per-sample input shape it was built for, and the TorchSharp
/// module holding its parameters. It trains (through <see cref="Training.TrainingLoop"/>), predicts in
/// eval mode, summarizes itself and exports itself to ONNX.
/// </summary>
public sealed class Network : IDisposable
{
    private readonly Device _device;
    private bool _disposed;

    /// <summary>Builds the network with parameters initialized from <paramref name="seed"/>.</summary>
    /// <param name="architecture">The layers.</param>
    /// <param name="inputShape">The per-sample input shape (no batch dimension).</param>
    /// <param name="seed">The seed of the parameter initialization.</param>
    /// <param name="device">The device to hold the parameters on; the CPU when null.</param>
    /// <exception cref="InsufficientMemoryException">libtorch could not allocate the parameters.</exception>
    public Network(LayerSpec architecture, IReadOnlyList<int> inputShape, int seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count == 0 || inputShape.Any(d => d < 1))
        {
            throw new ArgumentException($"The input shape must have positive sizes, got {Shapes.Format(inputShape)}.", nameof(inputShape));
        }
        if (Nested(architecture).FirstOrDefault(l => l.SideInputs.Count > 0) is { } inner)
        {
            throw new ArgumentException($"{inner.Describe()} reads its own inputs, so it must be the network's outermost layer.", nameof(architecture));
        }
        Architecture = architecture;
        InputShape = inputShape.ToArray();
        OutputShape = architecture.OutputShape(InputShape);
        _device = device ?? CPU;
        TorchRuntime.EnsureInitialized();
        try
        {
            lock (TorchRuntime.TrainingLock)
            {
                random.manual_seed(seed);
                Module = architecture.CreateModule(InputShape);
            }
            Module.to(_device);
        }
        catch (Exception e) when (Training.TrainingMemory.IsAllocationFailure(e))
        {
            Module?.Dispose();
            throw new InsufficientMemoryException(
                $"Building the network ({architecture.ParameterCount(InputShape).ToString("N0", CultureInfo.InvariantCulture)} parameters, " +
                $"{Training.TrainingMemory.FormatBytes(architecture.ParameterCount(InputShape) * sizeof(float))} of weights) ran out of memory " +
                $"(libtorch: {Training.TrainingMemory.NativeMessage(e)}). Make the network smaller.");
        }
        Module.eval();
    }

    /// <summary>The layers.</summary>
    public LayerSpec Architecture { get; }

    /// <summary>The per-sample input shape.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>The per-sample output shape.</summary>
    public IReadOnlyList<int> OutputShape { get; }

    /// <summary>The device the parameters live on.</summary>
    public Device Device => _device;

    /// <summary>The total number of trainable parameters.</summary>
    public long ParameterCount => Module.parameters().Sum(p => p.numel());

    internal nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>The trainable parameters, in the module's order.</summary>
    public IReadOnlyList<Parameter> Parameters() => Module.parameters().ToList();

    /// <summary>The trainable parameters of the layers at <paramref name="layers"/> of a chain (<see cref="Sequential"/>), in order.</summary>
    /// <exception cref="ArgumentException">The network is not a chain, or an index is outside it.</exception>
    public IReadOnlyList<Parameter> LayerParameters(IReadOnlyList<int> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var chain = Chain();
        foreach (int layer in layers.Where(l => l < 0 || l >= chain.Count))
        {
            throw new ArgumentException($"Layer {layer} is outside the chain of {chain.Count} layers.", nameof(layers));
        }
        return layers.SelectMany(l => chain[l].parameters()).ToList();
    }

    /// <summary>The inputs the network reads besides its features (<see cref="LayerSpec.SideInputs"/>), in order.</summary>
    public IReadOnlyList<IndexInput> SideInputs => Architecture.SideInputs;

    /// <summary>
    /// Runs the network on a batch [rows, ..InputShape] in its current mode (training or eval), with gradients unless they are
    /// disabled; <paramref name="sideInputs"/> holds one int64 tensor [rows] per entry of <see cref="SideInputs"/>.
    /// </summary>
    /// <remarks>
    /// Convolutions and LSTMs run on libtorch's oneDNN kernels where these agree with ATen's on this CPU for this network's layers,
    /// and on ATen's otherwise (<c>TorchRuntime.UseOneDnnFor</c>). That switch is global to the process: inside a training it is the
    /// training's choice for all of its networks; called outside one, a network with convolutions or LSTMs takes the training lock
    /// and its own choice for the forward pass, waiting for a training on another thread to finish. A backward pass run later,
    /// outside a training, runs on the process's resting choice.
    /// </remarks>
    /// <exception cref="ArgumentException">The number of side inputs differs from <see cref="SideInputs"/>, or one is invalid.</exception>
    public Tensor Forward(Tensor input, params Tensor[] sideInputs)
    {
        ArgumentNullException.ThrowIfNull(sideInputs);
        if (sideInputs.Length != SideInputs.Count)
        {
            throw new ArgumentException(
                $"{Architecture.Describe()} reads {SideInputs.Count} input(s) besides its features ({string.Join(", ", SideInputs.Select(i => $"'{i.Name}'"))}), " +
                $"got {sideInputs.Length}.", nameof(sideInputs));
        }
        return RunsAsItIs ? Call(input, sideInputs) : OnItsOwnKernels(() => Call(input, sideInputs));
    }

    /// <summary>
    /// Runs <paramref name="run"/> (libtorch passes of this network) inside a training as it is; outside one, for a network with
    /// convolutions or LSTMs, holding the training lock with libtorch's oneDNN kernels on or off for this network's layers
    /// (<see cref="TorchRuntime.UseOneDnnFor"/>), as that switch is global to the process.
    /// </summary>
    internal T OnItsOwnKernels<T>(Func<T> run)
    {
        if (RunsAsItIs)
        {
            return run();
        }
        lock (TorchRuntime.TrainingLock)
        {
            using var oneDnn = TorchRuntime.UseOneDnnForLayers(OneDnnLayers);
            return run();
        }
    }

    /// <summary>Whether passes of this network run on the kernels chosen now: inside a training (every training batch), or without convolutions and LSTMs.</summary>
    private bool RunsAsItIs => TorchRuntime.InTraining || OneDnnLayers.Count == 0;

    private Tensor Call(Tensor input, Tensor[] sideInputs)
        => sideInputs.Length == 0 ? Module.call(input) : ((ISideInputModule)Module).Forward(input, sideInputs);

    /// <summary>The network's layer configurations libtorch's oneDNN computes (convolutions, LSTMs), found once: they never change.</summary>
    private IReadOnlyList<OneDnnCheck.Layer> OneDnnLayers => _oneDnnLayers ??= OneDnnCheck.Layers([this]);

    private IReadOnlyList<OneDnnCheck.Layer>? _oneDnnLayers;

    private static IEnumerable<LayerSpec> Nested(LayerSpec spec) => spec.Sublayers().SelectMany(l => Nested(l).Prepend(l));

    /// <summary>Puts the network in training mode (dropout and batch statistics on) or eval mode.</summary>
    internal void SetTraining(bool training)
    {
        if (training)
        {
            Module.train();
        }
        else
        {
            Module.eval();
        }
    }

    /// <summary>A detached copy of every parameter and buffer, by name (early stopping's best weights).</summary>
    internal Dictionary<string, Tensor> CopyState()
        => Module.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone().DetachFromDisposeScope());

    /// <summary>Copies <paramref name="state"/> (from <see cref="CopyState"/>) back into the parameters and buffers.</summary>
    internal void RestoreState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (name, value) in Module.state_dict())
        {
            value.copy_(state[name]);
        }
    }

    /// <summary>Copies the parameters and buffers of layer <paramref name="sourceLayer"/> of chain <paramref name="source"/> into layer <paramref name="layer"/> of this chain.</summary>
    internal void CopyLayer(int layer, Network source, int sourceLayer)
    {
        using var _ = no_grad();
        var from = source.Chain()[sourceLayer].state_dict();
        foreach (var (name, value) in Chain()[layer].state_dict())
        {
            value.copy_(from[name]);
        }
    }

    private Sequential.SequentialModule Chain() => Module as Sequential.SequentialModule
        ?? throw new ArgumentException($"Only a chain of layers (Sequential) has layers by index; this network is {Architecture.Describe()}.");

    /// <summary>
    /// Runs the network in eval mode on <paramref name="rows"/> samples stored row-major in <paramref name="features"/>, with
    /// <paramref name="sideInputs"/> holding <paramref name="rows"/> indices per entry of <see cref="SideInputs"/>.
    /// </summary>
    /// <remarks>Runs through <see cref="Forward"/>, so a network with convolutions or LSTMs waits for a training on another thread to finish.</remarks>
    /// <returns>The outputs, row-major, <c>rows x size(OutputShape)</c> values.</returns>
    public float[] Predict(ReadOnlySpan<float> features, int rows, params long[][] sideInputs)
    {
        ArgumentNullException.ThrowIfNull(sideInputs);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int inputSize = Shapes.Size(InputShape);
        if (features.Length != rows * inputSize)
        {
            throw new ArgumentException(
                $"Expected {rows} rows of {inputSize} values ({rows * inputSize}), got {features.Length} values.", nameof(features));
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Module.eval();
        long[] shape = [rows, .. InputShape.Select(d => (long)d)];
        // The tensor torch.tensor builds from a managed array is only 8-byte aligned, at an offset that
        // varies from call to call, and some vectorized kernels round differently on 16- and 32-byte-aligned
        // data (measured: last-bit differences). clone() copies it into libtorch's own 64-byte-aligned
        // memory so that the same input always gives the same bits.
        var input = tensor(features.ToArray(), shape).clone().to(_device);
        var sides = sideInputs.Select((values, i) => values.Length == rows
            ? tensor(values).to(_device)
            : throw new ArgumentException($"Expected {rows} values of input '{SideInputs.ElementAtOrDefault(i)?.Name}', got {values.Length}.", nameof(sideInputs)));
        var output = Forward(input, sides.ToArray()).cpu().contiguous();
        return output.data<float>().ToArray();
    }

    /// <summary>A table of the layers with their output shapes and parameter counts, like Keras's <c>model.summary()</c>.</summary>
    public NetworkSummary Summarize()
    {
        var rows = new List<NetworkSummary.Row>();
        var (layers, module, shape) = (Architecture, Module, (IReadOnlyList<int>)InputShape);
        if (Architecture is Conditioned conditioned)
        {
            // The label's embedding joined to the input, then the body's layers.
            var conditionedModule = (Conditioned.ConditionedModule)Module;
            shape = conditioned.JoinedShape(InputShape);
            rows.Add(new($"Embedding({conditioned.Classes}, {conditioned.EmbeddingSize}), joined", shape.ToArray(), conditionedModule.Embedding.parameters().Sum(p => p.numel())));
            (layers, module) = (conditioned.Body, conditionedModule.Body);
        }
        if (layers is Sequential sequential)
        {
            var chain = (Sequential.SequentialModule)module;
            var shapes = sequential.ShapesThrough(shape);
            for (int i = 0; i < sequential.Layers.Count; i++)
            {
                rows.Add(new(sequential.Layers[i].Describe(), shapes[i + 1], chain[i].parameters().Sum(p => p.numel())));
            }
        }
        else
        {
            rows.Add(new(layers.Describe(), OutputShape.ToArray(), module.parameters().Sum(p => p.numel())));
        }
        return new NetworkSummary(InputShape.ToArray(), rows);
    }

    /// <summary>
    /// Writes the network as an ONNX model (opset 17) whose input <paramref name="inputName"/> is shaped [batch, ..InputShape]
    /// and whose one output <paramref name="outputName"/> is the network's output, shaped [batch, ..OutputShape]. A network with
    /// <see cref="SideInputs"/> has, after the features, one int64 input [batch] per side input, named as it is.
    /// </summary>
    /// <param name="inputName">The graph input's name.</param>
    /// <param name="outputName">The graph output's name.</param>
    /// <param name="metadata">Extra string metadata stored in the model (<c>metadata_props</c>).</param>
    /// <remarks>The model ends with the <see cref="MetadataKeys.Integrity"/> entry: a SHA-256 of all its other bytes, which DeepArch's loaders verify.</remarks>
    public byte[] ExportOnnx(string inputName, string outputName, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputName);
        return ExportOnnx(inputName, (graph, value, shape) => graph.AddOutput(value, outputName, shape), metadata);
    }

    /// <summary>
    /// Writes the network as an ONNX model whose input <paramref name="inputName"/> is shaped [batch, ..InputShape], and whose
    /// outputs <paramref name="addOutputs"/> declares: it gets the graph, the network's output value and <see cref="OutputShape"/>,
    /// and may add nodes on top of the value (a head's softmax or sigmoid) before it declares the outputs.
    /// </summary>
    /// <param name="inputName">The graph input's name.</param>
    /// <param name="addOutputs">Adds the nodes and outputs the caller needs; at least one output.</param>
    /// <param name="metadata">Extra string metadata stored in the model (<c>metadata_props</c>).</param>
    internal byte[] ExportOnnx(string inputName, Action<OnnxGraphBuilder, string, IReadOnlyList<int>> addOutputs, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        ArgumentNullException.ThrowIfNull(addOutputs);
        var graph = new OnnxGraphBuilder();
        string input = graph.AddInput(inputName, InputShape);
        foreach (var side in SideInputs)
        {
            graph.AddInput(side.Name, [], OnnxGraphBuilder.ElementType.Int64);
        }
        addOutputs(graph, Architecture.EmitOnnx(graph, input, Module, InputShape), OutputShape);
        return graph.ToModelBytes(this, metadata);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_disposed)
        {
            Module.Dispose();
            _disposed = true;
        }
    }
}

/// <summary>The keys DeepArch writes into an exported model's <c>metadata_props</c>.</summary>
public static class MetadataKeys
{
    /// <summary>The layer specification as JSON.</summary>
    public const string Architecture = "deeparch.architecture";

    /// <summary>The per-sample input shape as a JSON array.</summary>
    public const string InputShape = "deeparch.input_shape";

    /// <summary>The SHA-256 (lowercase hex) of every byte of the model before this entry, which is the last one unless the model is signed.</summary>
    public const string Integrity = "deeparch.sha256";

    /// <summary>In a signed model, the last entry: the HMAC-SHA256 (lowercase hex) under the signing key of every byte before it.</summary>
    public const string Signature = "deeparch.hmac-sha256";
}

/// <summary>A network's layers with their output shapes and parameter counts.</summary>
/// <param name="InputShape">The per-sample input shape.</param>
/// <param name="Rows">One row per layer.</param>
public sealed record NetworkSummary(int[] InputShape, IReadOnlyList<NetworkSummary.Row> Rows)
{
    /// <summary>One layer of the summary.</summary>
    /// <param name="Layer">The layer's description.</param>
    /// <param name="OutputShape">Its per-sample output shape.</param>
    /// <param name="Parameters">Its number of trainable parameters.</param>
    public sealed record Row(string Layer, int[] OutputShape, long Parameters);

    /// <summary>The total number of trainable parameters.</summary>
    public long TotalParameters => Rows.Sum(r => r.Parameters);

    /// <summary>The summary as a fixed-width table.</summary>
    public override string ToString()
    {
        var lines = new List<(string, string, string)> { ("Layer", "Output shape", "Params"), ("Input", Shapes.Format(InputShape), "") };
        lines.AddRange(Rows.Select(r => (r.Layer, Shapes.Format(r.OutputShape), r.Parameters.ToString("N0", CultureInfo.InvariantCulture))));
        int w1 = lines.Max(l => l.Item1.Length) + 2, w2 = lines.Max(l => l.Item2.Length) + 2;
        var text = new StringBuilder();
        foreach (var (a, b, c) in lines)
        {
            text.Append(a.PadRight(w1)).Append(b.PadRight(w2)).AppendLine(c);
        }
        text.Append("Total parameters: ").Append(TotalParameters.ToString("N0", CultureInfo.InvariantCulture));
        return text.ToString();
    }
}
