using DeepArch.Trainers;
using DeepArch.Trainers.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// The transformer every DeepArch trainer returns: it scores the trained network, exported to ONNX,
/// with ONNX Runtime, one session call per batch of rows, and adds the task's standard output columns.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><description><see cref="Transform"/> is lazy: rows are read from the upstream cursor a batch at a time, scored
/// with one ONNX Runtime call and handed out one by one, so memory is bounded by the batch.</description></item>
/// <item><description>Cursors over any subset of columns work; when no output column is requested, nothing is scored.</description></item>
/// <item><description><c>PredictionEngine</c> works through <see cref="GetRowToRowMapper"/> (one row per call).</description></item>
/// <item><description><c>mlContext.Model.Save</c> writes the model through ML.NET's own <c>OnnxTransformer</c>;
/// <c>DeepArchModel.Load</c> restores this batched transformer (see <see cref="DeepArchModel"/>).</description></item>
/// <item><description><see cref="SaveOnnx(string)"/> writes the network as a standalone ONNX file.</description></item>
/// </list>
/// The transformer is thread-safe: cursors and prediction engines may be used from several threads at once. It owns an
/// ONNX Runtime session, so it is <see cref="IDisposable"/>, and ML.NET's <c>PredictionEngine</c> disposes the transformer it
/// was made from when it is disposed itself (<c>PredictionEngineOptions.OwnsTransformer</c>, true by default): an engine made
/// per request from a shared model, with <c>using</c>, must be created with <c>OwnsTransformer = false</c> (or come from
/// <c>PredictionEnginePool</c>), or the first one disposed takes the model with it.
/// </remarks>
public sealed class NetworkTransformer : ISingleFeaturePredictionTransformer<NetworkTransformer>, IDisposable
{
    private readonly byte[] _onnxModel;
    private readonly OnnxScorer _scorer;
    private readonly IReadOnlyList<OutputColumn> _outputs;
    private bool _disposed;

    /// <summary>The transformer over <paramref name="onnxModel"/>, scored as <paramref name="info"/>'s scoring settings say.</summary>
    /// <param name="onnxModel">The exported network.</param>
    /// <param name="info">Its model info; its <see cref="ModelInfo.Scoring"/> may differ from the one in the file (load overrides).</param>
    /// <param name="warn">Told when CUDA is not usable and scoring falls back to the CPU (a warning in <c>mlContext.Log</c>); optional.</param>
    internal NetworkTransformer(byte[] onnxModel, ModelInfo info, Action<string>? warn = null)
    {
        _onnxModel = onnxModel;
        Info = info;
        var outputs = info.Task.ScoringOutputs(info);
        info.Scoring.ThrowIfBuffersTooLarge(info.FeatureSize, outputs.Select(o => o.Shape));
        _scorer = new OnnxScorer(onnxModel, info.Inputs, outputs, info.Scoring, warn);
        _outputs = info.Task.CreateOutputColumns();
    }

    internal ModelInfo Info { get; }

    internal OnnxScorer Scorer => _scorer;

    /// <summary>The exported model's bytes.</summary>
    internal byte[] OnnxModel => _onnxModel;

    internal IReadOnlyList<OutputColumn> Outputs => _outputs;

    /// <summary>The feature column the network reads.</summary>
    public string FeatureColumnName => Info.FeatureColumn;

    /// <summary>The number of values the network reads from the feature column per row.</summary>
    public int FeatureSize => Info.FeatureSize;

    /// <summary>
    /// The feature column's type as the network reads it: a known-size vector of <see cref="FeatureSize"/> values, or a vector of
    /// any size for variable-length sequences (recurrent networks) and token keys (sequence-to-sequence).
    /// </summary>
    /// <remarks>
    /// With <see cref="FeatureColumnName"/> and <see cref="Model"/>, this makes the transformer an ML.NET
    /// <see cref="ISingleFeaturePredictionTransformer{TModel}"/>: pass it to the generic overloads of
    /// <c>mlContext.*.PermutationFeatureImportance</c> (the overloads that take a whole <see cref="ITransformer"/> chain look only
    /// for ML.NET's own predictors).
    /// </remarks>
    public DataViewType FeatureColumnType => Info.Translation is { } translation ? new VectorDataViewType(translation.Source.KeyType)
        : Info.Sequence is { VariableLength: true } ? new VectorDataViewType(NumberDataViewType.Single)
        : new VectorDataViewType(NumberDataViewType.Single, Info.FeatureSize);

    /// <summary>The model: this transformer itself (its network is scored by ONNX Runtime, not by an ML.NET predictor).</summary>
    public NetworkTransformer Model => this;

    /// <summary>The per-epoch training history (train and validation loss, learning rate, elapsed time).</summary>
    public TrainingHistory History => Info.History;

    /// <summary>The network's layers, output shapes and parameter counts as a table.</summary>
    public string NetworkSummary => Info.Summary;

    /// <summary>Rows scored per ONNX Runtime call.</summary>
    public int ScoringBatchSize => Info.Scoring.BatchSize;

    /// <summary>ONNX Runtime intra-op threads this transformer's session uses (0 = one per core).</summary>
    public int ScoringThreads => Info.Scoring.Threads;

    /// <summary>Where this transformer scores: <see cref="DeepArch.Trainers.ComputeDevice.Cuda"/> only when ONNX Runtime's CUDA provider is in use, after any fallback.</summary>
    public DeepArch.Trainers.ComputeDevice ScoringDevice => _scorer.Device;

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <summary>
    /// The same network scored as <paramref name="overrides"/> say (device, GPU, fallback, rows per call, threads), each
    /// setting left null keeping this transformer's. The new transformer has its own ONNX Runtime session and is the
    /// caller's to dispose; this one is unchanged. Saving either writes the settings the model was trained with.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An override is out of range; the message names it.</exception>
    /// <exception cref="ExecutionProviderUnavailableException">CUDA is asked for, without fallback, and is not usable here.</exception>
    public NetworkTransformer WithScoring(ScoringOverrides overrides)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(overrides);
        overrides.Validate(nameof(overrides));
        return new NetworkTransformer(_onnxModel, Info with { Scoring = overrides.Apply(Info.Scoring, fallbackByDefault: null) });
    }

    /// <summary>The same network scored with <paramref name="scoring"/>, settings no public override reaches (tests).</summary>
    internal NetworkTransformer WithSettings(ScoringSettings scoring) => new(_onnxModel, Info with { Scoring = scoring });

    /// <summary>Writes the network as a standalone ONNX model (opset 17), for ONNX Runtime in any language, Triton or SynapseML.</summary>
    /// <remarks>The graph input is named after the feature column and shaped [batch, <see cref="FeatureSize"/>].</remarks>
    public void SaveOnnx(string path) => File.WriteAllBytes(path, _onnxModel);

    /// <summary>
    /// Writes the network as a serving bundle into <paramref name="modelDirectory"/>, a model directory of a Triton Inference Server
    /// model repository (the directory's name is the model's name): <c>1/model.onnx</c> (the standalone ONNX file),
    /// <c>config.pbtxt</c> (Triton's configuration for its ONNX Runtime backend: input and output names, types and dimensions,
    /// a dynamic batch dimension up to <see cref="ScoringBatchSize"/> rows, dynamic batching), <c>labels.txt</c> for a
    /// multiclass model, and <c>README.md</c> saying what each input and output holds. docs/scale-out.md serves it.
    /// </summary>
    /// <param name="modelDirectory">The model's directory, created when missing; its name may hold ASCII letters, digits, '_', '-' and '.'.</param>
    /// <exception cref="ArgumentException">The directory's name cannot be a Triton model name.</exception>
    public void SaveForServing(string modelDirectory)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ServingBundle.Write(this, modelDirectory, []);
    }

    /// <summary>Writes the network as a standalone ONNX model to <paramref name="stream"/>.</summary>
    public void SaveOnnx(Stream stream) => stream.Write(_onnxModel);

    /// <summary>
    /// Writes the network as a standalone ONNX model signed with <paramref name="signingKey"/>: a last metadata entry,
    /// <c>deeparch.hmac-sha256</c>, holds the HMAC-SHA256 of every byte before it under the key, so that
    /// <see cref="DeepArchModel.LoadOnnx(string, ModelLoadOptions)"/> with the same key accepts the file
    /// and refuses any other. Other ONNX runtimes ignore the entry.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="signingKey">A secret key of at least 16 bytes.</param>
    public void SaveOnnx(string path, byte[] signingKey) => File.WriteAllBytes(path, Signed(signingKey));

    /// <summary>Writes the network as a standalone ONNX model signed with <paramref name="signingKey"/> to <paramref name="stream"/> (see <see cref="SaveOnnx(string, byte[])"/>).</summary>
    public void SaveOnnx(Stream stream, byte[] signingKey) => stream.Write(Signed(signingKey));

    private byte[] Signed(byte[] signingKey)
    {
        new ModelSaveOptions { SigningKey = signingKey ?? throw new ArgumentNullException(nameof(signingKey)) }.Validate();
        return DeepArch.Trainers.Networks.OnnxIntegrity.Sign(_onnxModel, signingKey);
    }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ResolveInputs(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var output in _outputs)
        {
            builder.AddColumn(output.Name, output.Type, output.Annotations);
        }
        return builder.ToSchema();
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(input);
        return new BatchScoringDataView(this, input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new NetworkRowMapper(this, inputSchema);
    }

    /// <summary>Finds and checks the columns the network reads in <paramref name="schema"/>: the features, then the condition's key column, if any.</summary>
    internal IReadOnlyList<DataViewSchema.Column> ResolveInputs(DataViewSchema schema)
    {
        var feature = ResolveFeature(schema);
        if (Info.Condition is not { } condition)
        {
            return [feature];
        }
        var column = schema.GetColumnOrNull(condition.Column) ?? throw SchemaErrors.ColumnNotFound("label", condition.Column);
        if (column.Type is not KeyDataViewType key || key.RawType != typeof(uint) || key.Count != (ulong)condition.Keys.Count)
        {
            throw SchemaErrors.Mismatch("label", condition.Column, $"Key<UInt32, 0-{condition.Keys.Count - 1}> (the label's key type at training)",
                SchemaErrors.Describe(column.Type));
        }
        return [feature, column];
    }

    /// <summary>Readers of the current row's network inputs (<see cref="OnnxScorer.InputSizes"/> values each) from <paramref name="columns"/> (<see cref="ResolveInputs"/>).</summary>
    internal FeatureColumn.RowReader[] CreateInputReaders(DataViewRow row, IReadOnlyList<DataViewSchema.Column> columns)
        => columns.Count == 1 ? [CreateFeatureReader(row, columns[0])] : [CreateFeatureReader(row, columns[0]), CreateConditionReader(row, columns[1])];

    /// <summary>A reader of the current row's condition as a one-hot vector; it throws on a missing key.</summary>
    private FeatureColumn.RowReader CreateConditionReader(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<uint>(column);
        int count = Info.Condition!.Keys.Count;
        return values =>
        {
            uint key = 0;
            getter(ref key);
            if (key == 0 || key > count)
            {
                throw new InvalidOperationException(
                    $"Label column '{column.Name}' has a missing key at row {row.Position}; the network needs one of its {count} labels in every row.");
            }
            values.Clear();
            values[(int)key - 1] = 1;
        };
    }

    /// <summary>Finds and checks the feature column in <paramref name="schema"/> (a sequence column for recurrent networks).</summary>
    internal DataViewSchema.Column ResolveFeature(DataViewSchema schema)
    {
        if (Info.Generation is { } generation && schema.GetColumnOrNull(FeatureColumnName) is null)
        {
            // A generator reads noise, not the training rows: an estimator chain that holds the GAN passes it those rows after Fit.
            throw new ArgumentOutOfRangeException("inputSchema",
                $"Could not find noise column '{FeatureColumnName}': a generator maps noise ({FeatureSize} values of N(0, 1) per row) to rows of " +
                $"'{generation.FeatureColumn}', so it cannot transform the training rows. Draw rows with mlContext.Data.Generate(generator, count), " +
                "and fit GenerateByAdversarialNetwork on its own rather than inside an estimator chain (a chain transforms the training rows with every " +
                "transformer it fits).");
        }
        return Info.Translation?.Resolve(schema, FeatureColumnName) ?? Info.Sequence?.Resolve(schema, FeatureColumnName) ?? FeatureColumn.Resolve(schema, FeatureColumnName, FeatureSize);
    }

    /// <summary>A reader of the current row's network input (<see cref="OnnxScorer.InputSize"/> values).</summary>
    /// <remarks>A detector trained with <see cref="MissingValuePolicy.Throw"/> throws on a row with a NaN or infinite value, naming its position and slot.</remarks>
    internal FeatureColumn.RowReader CreateFeatureReader(DataViewRow row, DataViewSchema.Column column)
    {
        var read = Info.Translation?.CreateReader(row, column) ?? Info.Sequence?.CreateReader(row, column) ?? FeatureColumn.CreateReader(row, column);
        if (!Info.Task.RejectsNonFiniteFeatures)
        {
            return read;
        }
        string name = column.Name;
        return values =>
        {
            read(values);
            int slot = TrainingDataReader.FirstNonFinite(values);
            if (slot >= 0)
            {
                throw new InvalidOperationException(
                    $"Feature column '{name}' holds {values[slot].ToString(System.Globalization.CultureInfo.InvariantCulture)} at row {row.Position}, {Info.Sequence?.DescribeSlot(slot) ?? $"slot {slot}"}, " +
                    "and the detector was trained with Options.MissingValues = Throw. Replace missing values first (for example with ReplaceMissingValues), " +
                    "filter those rows out, or train with MissingValuePolicy.FlagAsAnomaly.");
            }
        };
    }

    /// <summary>Saves through public ML.NET transforms (ONNX model + column conversions); see <see cref="DeepArchModel"/>.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => PersistedChain.Save(_onnxModel, Info, ctx);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_disposed)
        {
            _scorer.Dispose();
            _disposed = true;
        }
    }
}
