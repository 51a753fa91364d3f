using DeepArch.Trainers.Networks;

namespace DeepArch.Trainers.Tests.Onnx;

/// <summary>What a task adds on top of a network's output in its exported graph.</summary>
public enum TaskTransform
{
    /// <summary>The raw output.</summary>
    None,
    /// <summary>Softmax over the last axis (DeepArch.MLNet's multiclass head).</summary>
    Softmax,
    /// <summary>The logistic function (DeepArch.MLNet's binary head).</summary>
    Sigmoid,
}

/// <summary>One graph output of a task's export.</summary>
public sealed record TaskOutput(string Name, TaskTransform Transform = TaskTransform.None);

/// <summary>Exports a network with task outputs through <see cref="Network.ExportOnnx(string, Action{Trainers.Onnx.OnnxGraphBuilder, string, IReadOnlyList{int}}, IReadOnlyDictionary{string, string}?)"/>, emitting the nodes the ML.NET heads emit.</summary>
internal static class TaskOutputs
{
    public static byte[] Export(Network network, string inputName, IReadOnlyList<TaskOutput> outputs)
        => network.ExportOnnx(inputName, (graph, value, shape) =>
        {
            foreach (var output in outputs)
            {
                string transformed = output.Transform switch
                {
                    TaskTransform.Softmax => graph.AddNode("Softmax", [value], ("axis", -1L)),
                    TaskTransform.Sigmoid => graph.AddNode("Sigmoid", [value]),
                    _ => value,
                };
                graph.AddOutput(transformed, output.Name, shape);
            }
        });
}
