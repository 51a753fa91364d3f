using DeepArch.MLNet.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet.Persistence;

/// <summary>
/// The saveable stand-in of a <see cref="NetworkTransformer"/>. ML.NET keeps its model writers internal,
/// so a third-party transformer saves by handing <c>Save</c> to public, saveable transformers: here
/// ML.NET's <c>OnnxTransformer</c> over the same ONNX bytes, followed by the task's column conversions
/// (custom mappings, MapValue) and a DropColumns of the temporary columns (DESIGN §4 "Persistence").
/// </summary>
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
        var onnx = mlContext.Transforms.ApplyOnnxModel(
            info.Head.OnnxOutputs.Select(o => o.Name).ToArray(), [info.FeatureColumn], new MemoryStream(onnxModel));
        return onnx.Append(info.Head.CreatePersistedTail(mlContext)).Fit(new EmptyDataView(info.FeatureColumn, info.FeatureSize));
    }

    /// <summary>A data view with only the feature column and no rows: enough for the chain's schema checks.</summary>
    private sealed class EmptyDataView : IDataView
    {
        public EmptyDataView(string featureColumn, int featureSize)
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumn(featureColumn, new VectorDataViewType(NumberDataViewType.Single, featureSize));
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
