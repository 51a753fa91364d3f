using DeepArch.Trainers.Networks;
using DeepArch.Trainers.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// The saveable stand-in of a <see cref="NetworkTransformer"/>. ML.NET keeps its model writers internal,
/// so a third-party transformer saves by handing <c>Save</c> to public, saveable transformers: here
/// ML.NET's <c>OnnxTransformer</c> over the same network (plus a flat copy of each output the task types as a
/// one-dimensional vector, <see cref="PredictionTask.FlatOnnxOutputs"/>), followed by the task's column conversions
/// (custom mappings, MapValue) and a DropColumns of the temporary columns (DESIGN §4 "Persistence").
/// </summary>
/// <remarks>
/// The chain ends with a copy of the feature column under a temporary name made of <see cref="NetworkTokenPrefix"/> and
/// the network's SHA-256, dropped at once: it costs nothing when scoring, and binds the saved chain to its network, so
/// that <see cref="DeepArchModel"/> notices a network swapped for another one (<see cref="CheckBinding"/>).
/// </remarks>
internal static class PersistedChain
{
    /// <summary>Saves the stand-in of a network into <paramref name="ctx"/>, then releases its ONNX Runtime session.</summary>
    public static void Save(byte[] onnxModel, ModelInfo info, ModelSaveContext ctx)
    {
        // The chain's OnnxTransformer opens a session of its own; without the Dispose every Save left one
        // to the finalizer (measured: the working set grew by about 100 KB per save).
        var chain = Create(onnxModel, info);
        try
        {
            chain.Save(ctx);
        }
        finally
        {
            (chain as IDisposable)?.Dispose();
        }
    }

    public static ITransformer Create(byte[] onnxModel, ModelInfo info)
    {
        var mlContext = new MLContext();
        // The outputs the transformer types as one-dimensional vectors are read through flat copies, which the chain's network
        // adds (the OnnxTransformer would type them [1, k]); DeepArchModel.Load takes them out again (OnnxFlatOutputs.Remove).
        var flat = info.Task.FlatOnnxOutputs;
        onnxModel = OnnxFlatOutputs.Add(onnxModel, flat.ToArray());
        string token = NetworkToken(onnxModel);
        // One flat chain (Append<ITransformer> on the chain itself; the extension method would nest it): its OnnxTransformer is
        // its part HeadLength(info), where DeepArchModel.Load looks for it.
        var chain = new EstimatorChain<ITransformer>();
        if (info.Condition is { } condition)
        {
            // The graph reads the condition one-hot under the key column's name: the key column is kept aside, replaced by its
            // one-hot vector for the OnnxTransformer, and put back after it. A missing key gives a zero vector, which the graph
            // turns into NaN outputs.
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(ConditionKey, condition.Column))
                .Append<ITransformer>(mlContext.Transforms.Conversion.MapKeyToVector(condition.Column, ConditionKey));
        }
        if (info.Translation is not null)
        {
            // The graph reads the source keys as numbers laid out in a fixed-size vector (OnnxTransformer takes no variable-size input).
            foreach (var step in SequenceTask.CreatePersistedHead(mlContext, info.FeatureColumn))
            {
                chain = chain.Append(step);
            }
        }
        // A sequence-to-sequence graph's source width is symbolic: the saved chain fixes it to the head's vector.
        var shapes = info.Translation is null ? new Dictionary<string, int[]>()
            : new Dictionary<string, int[]> { [TranslationInfo.SourceInput] = [1, 1 + TranslationInfo.MaxSourceTokens] };
        var rowShapes = info.Task.ScoringOutputs(info).ToDictionary(o => o.Name, o => o.Shape);
        foreach (string output in flat)
        {
            shapes[OnnxFlatOutputs.FlatName(output)] = [rowShapes[output].Aggregate(1, (a, d) => checked(a * d))];
        }
        var outputs = info.Task.OnnxOutputNames.Select(o => flat.Contains(o) ? OnnxFlatOutputs.FlatName(o) : o).ToArray();
        chain = chain.Append<ITransformer>(mlContext.Transforms.ApplyOnnxModel(
                outputs, info.Inputs.Select(i => i.Name).ToArray(), new MemoryStream(onnxModel), shapes.Count == 0 ? null : shapes, gpuDeviceId: null, fallbackToCpu: false, recursionLimit: 100));
        foreach (string output in flat)
        {
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(output, OnnxFlatOutputs.FlatName(output)))
                .Append<ITransformer>(mlContext.Transforms.DropColumns(OnnxFlatOutputs.FlatName(output)));
        }
        chain = chain.Append(info.Task.CreatePersistedTail(mlContext));
        if (info.Condition is not null)
        {
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(info.Condition.Column, ConditionKey))
                .Append<ITransformer>(mlContext.Transforms.DropColumns(ConditionKey));
        }
        if (info.Translation is not null)
        {
            chain = chain.Append<ITransformer>(mlContext.Transforms.DropColumns([.. SequenceTask.HeadColumns]));
        }
        return chain
            .Append<ITransformer>(mlContext.Transforms.CopyColumns(token, info.FeatureColumn))
            .Append<ITransformer>(mlContext.Transforms.DropColumns(token))
            .Fit(new EmptyDataView(info));
    }

    /// <summary>The number of transforms a saved chain of <paramref name="info"/>'s network holds before its <c>OnnxTransformer</c>.</summary>
    public static int HeadLength(ModelInfo info) => info.Condition is null && info.Translation is null ? 0 : 2;

    /// <summary>The temporary column that keeps a condition's key column while the graph reads its one-hot vector.</summary>
    private const string ConditionKey = "__DeepArch_ConditionKey";

    /// <summary>The start of the temporary column name that binds a saved chain to its network.</summary>
    public const string NetworkTokenPrefix = "__DeepArch_Network_";

    /// <summary>The temporary column name that binds a saved chain to the network <paramref name="onnxModel"/>.</summary>
    public static string NetworkToken(byte[] onnxModel) => NetworkTokenPrefix + OnnxIntegrity.SealOf(onnxModel);

    /// <summary>
    /// Checks that <paramref name="chain"/>, loaded from the model's directory of <paramref name="entry"/>, was saved for the
    /// network <paramref name="onnxModel"/>: it names that network's SHA-256 and no other, and adds the columns the network's
    /// task adds, with their types.
    /// </summary>
    /// <exception cref="InvalidDataException">The chain was saved for another network (or for none).</exception>
    public static void CheckBinding(TransformerChain<ITransformer> chain, byte[] onnxModel, ModelInfo info, string entry)
    {
        string expected = NetworkToken(onnxModel);
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        DataViewSchema schema;
        try
        {
            schema = Walk(chain, new EmptyDataView(info).Schema, tokens);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException(
                $"The network in zip entry '{entry}' does not fit the transforms saved with it: {DeepArchModel.Describe(e)} It was swapped for another network, or the file was edited.", e);
        }
        if (!tokens.Contains(expected) || tokens.Count != 1)
        {
            string named = tokens.Count == 0 ? "no network" : string.Join(", ", tokens.Select(t => t[NetworkTokenPrefix.Length..]));
            throw new InvalidDataException(
                $"The network in zip entry '{entry}' (SHA-256 {expected[NetworkTokenPrefix.Length..]}) is not the one the transforms saved with it were written for " +
                $"(they name {named}): it was swapped for another network, or the file was edited.");
        }
        foreach (var column in info.Task.CreateOutputColumns())
        {
            var saved = schema.GetColumnOrNull(column.Name);
            if (saved is null || !SameType(saved.Value.Type, column.Type))
            {
                throw new InvalidDataException(
                    $"The network in zip entry '{entry}' adds column '{column.Name}' of type {column.Type} but the transforms saved with it " +
                    $"{(saved is null ? "do not add it" : $"add it as {saved.Value.Type}")}: the file was edited.");
            }
        }
    }

    /// <summary>The schema after every transformer of <paramref name="transformer"/>, collecting the network tokens seen on the way.</summary>
    private static DataViewSchema Walk(ITransformer transformer, DataViewSchema schema, HashSet<string> tokens)
    {
        if (transformer is TransformerChain<ITransformer> chain)
        {
            foreach (var part in chain)
            {
                schema = Walk(part, schema, tokens);
            }
            return schema;
        }
        schema = transformer.GetOutputSchema(schema);
        foreach (var column in schema)
        {
            if (column.Name.StartsWith(NetworkTokenPrefix, StringComparison.Ordinal))
            {
                tokens.Add(column.Name);
            }
        }
        return schema;
    }

    /// <summary>Vectors match on item type and size (ML.NET's <c>OnnxTransformer</c> may add dimensions); other types exactly.</summary>
    private static bool SameType(DataViewType saved, DataViewType expected)
        => saved is VectorDataViewType a && expected is VectorDataViewType b ? a.ItemType.Equals(b.ItemType) && a.Size == b.Size : saved.Equals(expected);

    /// <summary>A data view with only the columns the network reads and no rows: enough for the chain's schema checks.</summary>
    private sealed class EmptyDataView : IDataView
    {
        public EmptyDataView(ModelInfo info)
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumn(info.FeatureColumn, info.Translation is { } translation
                ? new VectorDataViewType(translation.Source.KeyType)
                : new VectorDataViewType(NumberDataViewType.Single, info.FeatureSize));
            if (info.Condition is { } condition)
            {
                builder.AddColumn(condition.Column, condition.Keys.KeyType, condition.Keys.Annotations());
            }
            Schema = builder.ToSchema();
        }

        public DataViewSchema Schema { get; }

        public bool CanShuffle => false;

        public long? GetRowCount() => 0;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(Schema);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(Schema)];

        private sealed class Cursor(DataViewSchema schema) : DataViewRowCursor
        {
            public override DataViewSchema Schema => schema;

            public override long Position => -1;

            public override long Batch => 0;

            public override bool MoveNext() => false;

            public override bool IsColumnActive(DataViewSchema.Column column) => true;

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
                => throw new InvalidOperationException("The data view has no rows.");

            public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = default;
        }
    }
}
