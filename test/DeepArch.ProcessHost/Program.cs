// Usage: DeepArch.ProcessHost score <model.zip> <features.csv> <plain|deeparch>
// Loads the model in this fresh process (plain: mlContext.Model.Load after DeepArchModel.Register;
// deeparch: DeepArchModel.Load), scores the rows of features.csv (one row of floats per line, in a
// column named "Features") and prints each row's Score values, invariant culture, one row per line.
//
// Usage: DeepArch.ProcessHost fit <rows.csv> <mlContextSeed>
// Trains DeterminismPipeline's pipelines on the rows of rows.csv in this fresh process and prints the
// scores of those rows (one line per row and task), for the cross-process determinism test.
using System.Globalization;
using DeepArch.MLNet.Persistence;
using DeepArch.ProcessHost;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length == 3 && args[0] == "fit")
{
    foreach (string line in DeterminismPipeline.FitAndScore(DeterminismPipeline.ReadCsv(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture)))
    {
        Console.WriteLine(line);
    }
    return 0;
}
if (args.Length != 4 || args[0] != "score")
{
    Console.Error.WriteLine("usage: DeepArch.ProcessHost score <model.zip> <features.csv> <plain|deeparch>");
    Console.Error.WriteLine("       DeepArch.ProcessHost fit <rows.csv> <mlContextSeed>");
    return 2;
}
var ml = new MLContext();
ITransformer model;
if (args[3] == "plain")
{
    DeepArchModel.Register(ml);
    model = ml.Model.Load(args[1], out _);
}
else
{
    model = DeepArchModel.Load(ml, args[1], out _);
}
float[][] rows = File.ReadAllLines(args[2]).Select(l => l.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
var schema = SchemaDefinition.Create(typeof(Row));
schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, rows[0].Length);
var scored = model.Transform(ml.Data.LoadFromEnumerable(rows.Select(r => new Row { Features = r }), schema));
var column = scored.Schema["Score"];
using var cursor = scored.GetRowCursor([column]);
if (column.Type is VectorDataViewType)
{
    var getter = cursor.GetGetter<VBuffer<float>>(column);
    VBuffer<float> value = default;
    while (cursor.MoveNext())
    {
        getter(ref value);
        Console.WriteLine(string.Join(",", value.DenseValues().Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
    }
}
else
{
    var getter = cursor.GetGetter<float>(column);
    float value = 0;
    while (cursor.MoveNext())
    {
        getter(ref value);
        Console.WriteLine(value.ToString("R", CultureInfo.InvariantCulture));
    }
}
return 0;

internal sealed class Row
{
    public float[] Features { get; set; } = [];
}
