using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace DeepArch.MLNet;

/// <summary>
/// How a recurrent network reads its feature column as a sequence: <see cref="FeaturesPerStep"/> values
/// per time step, step-major (<c>x[t * F + f]</c>). A known-size vector holds a fixed number of steps; a
/// variable-size vector holds any whole number of steps up to <see cref="MaxSteps"/>, and reaches the
/// network as <c>[length, x_1 .. x_L, 0 ..]</c> (<see cref="DeepArch.Trainers.Layers.Recurrent"/>'s
/// variable-length layout), which the exported graph turns into ONNX's <c>sequence_lens</c>.
/// </summary>
/// <param name="FeaturesPerStep">Values per time step (F); at least 1.</param>
/// <param name="MaxSteps">The number of steps of a fixed-length column, or the most a variable-length row may hold.</param>
/// <param name="VariableLength">Whether the column is a variable-size vector.</param>
internal sealed record SequenceLayout(int FeaturesPerStep, int MaxSteps, bool VariableLength)
{
    /// <summary>Values per row of the network's input: <c>MaxSteps * F</c>, plus the length in front when variable.</summary>
    public int NetworkInputSize => checked(MaxSteps * FeaturesPerStep + (VariableLength ? 1 : 0));

    /// <summary>
    /// Checks a sequence column at estimator time: a vector of <c>Single</c>, known-size or variable-size.
    /// </summary>
    public static void Check(SchemaShape shape, string name, string role = "feature")
    {
        var column = shape.FirstOrDefault(c => c.Name == name);
        if (column.Name is null)
        {
            throw SchemaErrors.ColumnNotFound(role, name);
        }
        if (column.IsKey || column.ItemType != NumberDataViewType.Single || column.Kind == SchemaShape.Column.VectorKind.Scalar)
        {
            throw SchemaErrors.Mismatch(role, name, ExpectedType, SchemaErrors.Describe(column));
        }
    }

    /// <summary>What a sequence column must be, in schema-error wording.</summary>
    public const string ExpectedType = "vector of Single (known-size or variable-size) holding whole time steps";

    /// <summary>
    /// Finds the training sequence column and returns the layout it implies: known-size vectors give a fixed
    /// number of steps (the size must be a multiple of <paramref name="featuresPerStep"/>); variable-size vectors
    /// give <paramref name="maxSteps"/> steps at most, or, when it is 0, the longest training row's
    /// (<paramref name="data"/> is read once for it).
    /// </summary>
    public static (DataViewSchema.Column Column, SequenceLayout Layout) ForTraining(IDataView data, string name, int featuresPerStep,
        int maxSteps, CancellationToken cancellationToken)
    {
        var column = data.Schema.GetColumnOrNull(name) ?? throw SchemaErrors.ColumnNotFound("feature", name);
        if (column.Type is not VectorDataViewType vector || vector.ItemType.RawType != typeof(float) || vector.ItemType is KeyDataViewType)
        {
            throw SchemaErrors.Mismatch("feature", name, ExpectedType, SchemaErrors.Describe(column.Type));
        }
        if (vector.IsKnownSize)
        {
            if (vector.Size % featuresPerStep != 0)
            {
                throw NotWholeSteps(name, vector.Size, featuresPerStep);
            }
            return (column, new SequenceLayout(featuresPerStep, vector.Size / featuresPerStep, false));
        }
        if (maxSteps > 0)
        {
            return (column, new SequenceLayout(featuresPerStep, maxSteps, true));
        }
        int longest = 0;
        using (var cursor = data.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                if ((cursor.Position & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                getter(ref buffer);
                longest = Math.Max(longest, buffer.Length);
            }
        }
        if (longest == 0)
        {
            throw new InvalidOperationException($"Feature column '{name}' has no rows with values: a recurrent network needs at least one step ({featuresPerStep} {(featuresPerStep == 1 ? "value" : "values")} per step).");
        }
        return (column, new SequenceLayout(featuresPerStep, (longest + featuresPerStep - 1) / featuresPerStep, true));
    }

    /// <summary>Checks a scoring or validation column against this layout; returns it.</summary>
    public DataViewSchema.Column Resolve(DataViewSchema schema, string name, string role = "feature")
    {
        var column = schema.GetColumnOrNull(name) ?? throw SchemaErrors.ColumnNotFound(role, name);
        if (VariableLength)
        {
            bool ok = column.Type is VectorDataViewType v && v.ItemType.RawType == typeof(float) && v.ItemType is not KeyDataViewType
                && (!v.IsKnownSize || (v.Size % FeaturesPerStep == 0 && v.Size <= MaxSteps * FeaturesPerStep));
            if (!ok)
            {
                throw SchemaErrors.Mismatch(role, name,
                    $"vector of Single holding whole steps of {FeaturesPerStep} values, at most {MaxSteps} steps", SchemaErrors.Describe(column.Type));
            }
            return column;
        }
        int size = MaxSteps * FeaturesPerStep;
        if (FeatureColumn.SizeOf(column.Type) != size)
        {
            throw SchemaErrors.Mismatch(role, name, $"Vector<Single, {size}> ({MaxSteps} steps of {FeaturesPerStep} values)", SchemaErrors.Describe(column.Type));
        }
        return column;
    }

    /// <summary>
    /// A reader of the current row as the network's input: the values as they are for a fixed length; for a
    /// variable length the number of steps, then the steps, then zeros up to <see cref="MaxSteps"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">(when called) A row's length is not a whole number of steps, is empty, or is longer than <see cref="MaxSteps"/>.</exception>
    /// <param name="row">The row (a cursor) to read.</param>
    /// <param name="column">The feature column.</param>
    /// <param name="training">Whether the rows are training rows (a row too long then names the option, not a trained model).</param>
    public FeatureColumn.RowReader CreateReader(DataViewRow row, DataViewSchema.Column column, bool training = false)
    {
        if (!VariableLength)
        {
            return FeatureColumn.CreateReader(row, column);
        }
        var getter = row.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        int features = FeaturesPerStep, maxValues = MaxSteps * FeaturesPerStep;
        string name = column.Name;
        return destination =>
        {
            getter(ref buffer);
            int length = buffer.Length;
            if (length == 0 || length % features != 0)
            {
                throw new InvalidOperationException(length == 0
                    ? $"Feature column '{name}' holds an empty sequence at row {row.Position}; a recurrent network needs at least one step ({features} {(features == 1 ? "value" : "values")} per step)."
                      : NotWholeSteps(name, length, features).Message + $" (row {row.Position})");
            }
            if (length > maxValues)
            {
                throw new InvalidOperationException(training
                    ? $"Feature column '{name}' holds {length / features} steps at row {row.Position}, more than the {MaxSteps} the network takes " +
                      "(Options.MaxSequenceLength, or the longest training sequence when it is 0): raise Options.MaxSequenceLength."
                    : $"Feature column '{name}' holds {length / features} steps at row {row.Position}, more than the {MaxSteps} the model was trained for " +
                      "(Options.MaxSequenceLength, or the longest training sequence when it is 0).");
            }
            destination[0] = length / features;
            buffer.CopyTo(destination.Slice(1, length));
            destination[(1 + length)..].Clear();
        };
    }

    /// <summary>
    /// Where value <paramref name="networkSlot"/> of the network's input is in the user's row, for an error message: a
    /// variable-length row's input starts with its step count, so slot k of the input is slot k - 1 of the row.
    /// </summary>
    public string DescribeSlot(int networkSlot)
    {
        int slot = VariableLength ? networkSlot - 1 : networkSlot;
        return string.Create(CultureInfo.InvariantCulture, $"slot {slot} (step {slot / FeaturesPerStep}, feature {slot % FeaturesPerStep})");
    }

    private static ArgumentException NotWholeSteps(string name, int length, int features)
        => new(string.Create(CultureInfo.InvariantCulture,
            $"Feature column '{name}' holds {length} values, which is not a whole number of steps of {features} features (Options.FeaturesPerStep = {features})."));
}
