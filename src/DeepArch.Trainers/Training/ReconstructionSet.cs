namespace DeepArch.Trainers.Training;

/// <summary>Training sets for autoencoders, whose targets are their inputs.</summary>
public static class ReconstructionSet
{
    /// <summary>Wraps <paramref name="features"/> (rows of <paramref name="inputSize"/> values, no copy) as both the inputs and the targets.</summary>
    public static TrainingSet Create(float[] features, int inputSize)
    {
        ArgumentNullException.ThrowIfNull(features);
        return new TrainingSet(features, [inputSize], features, inputSize);
    }
}
