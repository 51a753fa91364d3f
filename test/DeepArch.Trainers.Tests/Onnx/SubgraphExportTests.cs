using DeepArch.Trainers.Onnx;
using DeepArch.Trainers.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit;
using static DeepArch.Trainers.Onnx.OnnxGraphBuilder;

namespace DeepArch.Trainers.Tests.Onnx;

/// <summary>
/// Graphs with typed inputs and outputs and with <c>Loop</c>, <c>If</c> and <c>Scan</c> bodies, built with
/// <see cref="OnnxGraphBuilder"/>: each runs in ONNX Runtime against an oracle computed here, passes
/// <c>onnx.checker.check_model(full_check=True)</c>, and passes <see cref="OnnxModelCheck"/>, the loaders' structural check.
/// </summary>
public class SubgraphExportTests
{
    private const int Rows = 4, Hidden = 3;

    /// <summary>
    /// A greedy "decoder": <c>state = tanh(state W + b)</c> repeated until the trip count <c>steps</c> or until the int64 counter
    /// reaches <c>limit</c>, collecting each step's row sum (float) and whether it is positive (an int64 "token") as scan outputs.
    /// </summary>
    private static byte[] DecoderModel(float[] weight, float[] bias)
    {
        var graph = new OnnxGraphBuilder();
        string start = graph.AddInput("start", [Hidden]);
        string steps = graph.AddInput("steps", ElementType.Int64);
        string limit = graph.AddInput("limit", ElementType.Int64);
        string w = graph.AddInitializer("weight", weight, Hidden, Hidden);
        string b = graph.AddInitializer("bias", bias, Hidden);
        string axis1 = graph.AddInt64Initializer("axis1", [1], 1);

        var body = graph.CreateSubgraph("decode_step");
        body.AddInput("iteration", ElementType.Int64);
        body.AddInput("condition", ElementType.Bool);
        string state = body.AddInput("state", ElementType.Float, Dimension.Batch, Hidden);
        string count = body.AddInput("count", ElementType.Int64);
        // The body reads the outer graph's weight, bias, axis and limit by name.
        string next = body.AddNode("Tanh", [body.AddNode("Add", [body.AddNode("MatMul", [state, w]), b])]);
        string nextCount = body.AddNode("Add", [count, body.AddInt64Initializer("one", [1])]);
        string value = body.AddNode("ReduceSum", [next, axis1], ("keepdims", 1L));
        string token = body.AddNode("Cast", [body.AddNode("Greater", [value, body.AddInitializer("zero", [0f])])], ("to", (long)ElementType.Int64));
        body.AddOutput(body.AddNode("Less", [nextCount, limit]), "keep_going", ElementType.Bool);
        body.AddOutput(next, next, ElementType.Float, Dimension.Batch, Hidden);
        body.AddOutput(nextCount, nextCount, ElementType.Int64);
        body.AddOutput(value, value, ElementType.Float, Dimension.Batch, 1);
        body.AddOutput(token, token, ElementType.Int64, Dimension.Batch, 1);

        string[] loop = graph.AddNode("Loop", [steps, graph.AddBoolInitializer("go", [true]), start, graph.AddInt64Initializer("count0", [0])], 4, ("body", body));
        graph.AddOutput(loop[0], "state", [Hidden]);
        graph.AddOutput(loop[1], "count", ElementType.Int64);
        graph.AddOutput(loop[2], "values", ElementType.Float, "steps_taken", Dimension.Batch, 1);
        graph.AddOutput(loop[3], "tokens", ElementType.Int64, "steps_taken", Dimension.Batch, 1);
        graph.AddOutput(graph.AddNode("Less", [loop[1], steps]), "stopped_early", ElementType.Bool);
        return graph.ToModelBytes("greedy decoder test", new Dictionary<string, string>());
    }

    [Theory]
    [InlineData(5L, 3L)]
    [InlineData(4L, 10L)]
    [InlineData(0L, 10L)]
    public void A_loop_with_carried_state_a_counter_and_scan_outputs_matches_its_oracle(long steps, long limit)
    {
        var random = new Random(3);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] weight = Values(Hidden * Hidden), bias = Values(Hidden), start = Values(Rows * Hidden);

        byte[] model = DecoderModel(weight, bias);
        OnnxAssert.CheckModel(model);
        var proto = OnnxModelCheck.Check(model);
        var loopNode = proto.Graph.Node.Single(n => n.OpType == "Loop");
        Assert.Equal(AttributeProto.Types.AttributeType.Graph, loopNode.Attribute.Single().Type);
        Assert.Equal("decode_step", loopNode.Attribute.Single().G.Name);

        // Oracle: the loop runs while i < steps and, after the first iteration, while count < limit.
        var states = new List<float[]>();
        float[] current = start;
        for (long i = 0; i < steps && (i == 0 || i < limit); i++)
        {
            var next = new float[Rows * Hidden];
            for (int r = 0; r < Rows; r++)
            {
                for (int o = 0; o < Hidden; o++)
                {
                    double sum = bias[o];
                    for (int k = 0; k < Hidden; k++)
                    {
                        sum += (double)current[r * Hidden + k] * weight[k * Hidden + o];
                    }
                    next[r * Hidden + o] = (float)Math.Tanh(sum);
                }
            }
            states.Add(current = next);
        }

        using var session = new InferenceSession(model);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("start", new DenseTensor<float>(start, [Rows, Hidden])),
            NamedOnnxValue.CreateFromTensor("steps", new DenseTensor<long>(new[] { steps }, [])),
            NamedOnnxValue.CreateFromTensor("limit", new DenseTensor<long>(new[] { limit }, [])),
        ]);
        Tensor<T> Output<T>(string name) => results.Single(r => r.Name == name).AsTensor<T>();

        Assert.Equal(states.Count, Output<long>("count").Single());
        Assert.Equal(states.Count < steps, Output<bool>("stopped_early").Single());
        AssertClose(current, Output<float>("state").ToArray());
        var values = Output<float>("values");
        var tokens = Output<long>("tokens");
        // After no iteration ONNX Runtime shapes the scan outputs [0, 0, 1]: the symbolic batch size is not known then.
        Assert.Equal(states.Count == 0 ? [0, 0, 1] : [states.Count, Rows, 1], values.Dimensions.ToArray());
        Assert.Equal(values.Dimensions.ToArray(), tokens.Dimensions.ToArray());
        for (int s = 0; s < states.Count; s++)
        {
            for (int r = 0; r < Rows; r++)
            {
                double sum = states[s].Skip(r * Hidden).Take(Hidden).Sum(v => (double)v);
                Assert.Equal(sum, values[s, r, 0], 1e-5);
                if (Math.Abs(sum) > 1e-4)
                {
                    Assert.Equal(sum > 0 ? 1L : 0L, tokens[s, r, 0]);
                }
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_if_picks_the_branch_its_bool_input_names(bool flag)
    {
        var graph = new OnnxGraphBuilder();
        string x = graph.AddInput("x", [2]);
        string condition = graph.AddInput("flag", ElementType.Bool);
        var doubled = graph.CreateSubgraph("then");
        string twice = doubled.AddNode("Mul", [x, doubled.AddInitializer("two", [2f])]);
        doubled.AddOutput(twice, twice, ElementType.Float, Dimension.Batch, 2);
        var shifted = graph.CreateSubgraph("else");
        string plusOne = shifted.AddNode("Add", [x, shifted.AddInitializer("one", [1f])]);
        shifted.AddOutput(plusOne, plusOne, ElementType.Float, Dimension.Batch, 2);
        graph.AddOutput(graph.AddNode("If", [condition], ("else_branch", shifted), ("then_branch", doubled)), "y", [2]);
        byte[] model = graph.ToModelBytes("if test", new Dictionary<string, string>());
        OnnxAssert.CheckModel(model);
        OnnxModelCheck.Check(model);

        float[] input = [1.5f, -2f, 0.25f, 4f];
        using var session = new InferenceSession(model);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(input, [2, 2])),
            NamedOnnxValue.CreateFromTensor("flag", new DenseTensor<bool>(new[] { flag }, [])),
        ]);

        Assert.Equal(input.Select(v => flag ? v * 2 : v + 1), results.Single().AsTensor<float>().ToArray());
    }

    [Fact]
    public void The_loaders_check_refuses_an_operator_outside_the_list_inside_a_body()
    {
        var graph = new OnnxGraphBuilder();
        string x = graph.AddInput("x", [2]);
        var then = graph.CreateSubgraph("then");
        string inner = then.AddNode("Relu", [x]);
        then.AddOutput(inner, inner, ElementType.Float, Dimension.Batch, 2);
        var otherwise = graph.CreateSubgraph("else");
        otherwise.AddOutput(x, "copy", ElementType.Float, Dimension.Batch, 2);
        graph.AddOutput(graph.AddNode("If", [graph.AddBoolInitializer("flag", [true])], ("else_branch", otherwise), ("then_branch", then)), "y", [2]);
        var proto = OnnxModelCheck.Check(graph.ToModelBytes("check test", new Dictionary<string, string>()));

        proto.Graph.Node.Single(n => n.OpType == "If").Attribute.Single(a => a.Name == "then_branch").G.Node.Single().OpType = "Einsum";
        var error = Assert.Throws<InvalidDataException>(() => OnnxModelCheck.Check(Google.Protobuf.MessageExtensions.ToByteArray(proto)));

        Assert.Contains("'Einsum'", error.Message);
        Assert.Contains("subgraph", error.Message);
    }

    [Fact]
    public void A_scan_over_the_sequence_axis_gives_running_sums()
    {
        const int steps = 5, features = 2;
        var graph = new OnnxGraphBuilder();
        string initial = graph.AddInput("initial", [features]);
        string x = graph.AddInput("x", ElementType.Float, Dimension.Batch, "sequence", features);
        var body = graph.CreateSubgraph("accumulate");
        string sumIn = body.AddInput("sum", ElementType.Float, Dimension.Batch, features);
        string step = body.AddInput("x_t", ElementType.Float, Dimension.Batch, features);
        string sum = body.AddNode("Add", [sumIn, step]);
        body.AddOutput(sum, sum, ElementType.Float, Dimension.Batch, features);
        string running = body.AddOutput(sum, "running", ElementType.Float, Dimension.Batch, features);
        Assert.NotEqual(sum, running);
        string[] scan = graph.AddNode("Scan", [initial, x], 2,
            ("body", body), ("num_scan_inputs", 1L), ("scan_input_axes", new long[] { 1 }), ("scan_output_axes", new long[] { 1 }));
        graph.AddOutput(scan[0], "total", [features]);
        graph.AddOutput(scan[1], "running", ElementType.Float, Dimension.Batch, "sequence", features);
        byte[] model = graph.ToModelBytes("scan test", new Dictionary<string, string>());
        OnnxAssert.CheckModel(model);
        OnnxModelCheck.Check(model);

        var random = new Random(8);
        float[] start = Enumerable.Range(0, Rows * features).Select(_ => (float)random.NextDouble()).ToArray();
        float[] sequence = Enumerable.Range(0, Rows * steps * features).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        using var session = new InferenceSession(model);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("initial", new DenseTensor<float>(start, [Rows, features])),
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(sequence, [Rows, steps, features])),
        ]);
        var sums = results.Single(r => r.Name == "running").AsTensor<float>();
        var total = results.Single(r => r.Name == "total").AsTensor<float>();

        for (int r = 0; r < Rows; r++)
        {
            for (int f = 0; f < features; f++)
            {
                double expected = start[r * features + f];
                for (int t = 0; t < steps; t++)
                {
                    expected += sequence[(r * steps + t) * features + f];
                    Assert.Equal(expected, sums[r, t, f], 1e-5);
                }
                Assert.Equal(expected, total[r, f], 1e-5);
            }
        }
    }

    [Fact]
    public void Int64_token_ids_in_give_bool_and_int64_outputs_with_symbolic_dimensions()
    {
        var graph = new OnnxGraphBuilder();
        string tokens = graph.AddInput("tokens", ElementType.Int64, Dimension.Batch, "sequence");
        string padding = graph.AddNode("Less", [tokens, graph.AddInt64Initializer("first_token", [1])]);
        string real = graph.AddNode("Cast", [graph.AddNode("Greater", [tokens, graph.AddInt64Initializer("padding_id", [0])])], ("to", (long)ElementType.Int64));
        graph.AddOutput(padding, "is_padding", ElementType.Bool, Dimension.Batch, "sequence");
        graph.AddOutput(graph.AddNode("ReduceSum", [real, graph.AddInt64Initializer("axis", [1], 1)], ("keepdims", 1L)), "length", [1], ElementType.Int64);
        byte[] model = graph.ToModelBytes("typed test", new Dictionary<string, string>());
        OnnxAssert.CheckModel(model);
        var proto = OnnxModelCheck.Check(model);
        var input = proto.Graph.Input.Single().Type.TensorType;
        Assert.Equal((int)ElementType.Int64, input.ElemType);
        Assert.Equal(["batch", "sequence"], input.Shape.Dim.Select(d => d.DimParam));
        Assert.Equal([(int)ElementType.Bool, (int)ElementType.Int64], proto.Graph.Output.Select(o => o.Type.TensorType.ElemType));

        long[] ids = [5, 9, 2, 0, 0, 7, 0, 0, 0, 0, 3, 3, 3, 3, 3];
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("tokens", new DenseTensor<long>(ids, [3, 5]))]);

        Assert.Equal(ids.Select(t => t < 1), results.Single(r => r.Name == "is_padding").AsTensor<bool>().ToArray());
        Assert.Equal([3L, 1L, 5L], results.Single(r => r.Name == "length").AsTensor<long>().ToArray());
    }

    [Fact]
    public void Body_names_are_unique_across_the_model_and_a_body_serves_one_node()
    {
        var graph = new OnnxGraphBuilder();
        string x = graph.AddInput("x", [1]);
        var body = graph.CreateSubgraph("body");

        Assert.NotEqual(x, body.AddInput("x", ElementType.Float, Dimension.Batch, 1));
        Assert.Throws<ArgumentException>(() => graph.AddInput("x", [1]));
        var other = new OnnxGraphBuilder().CreateSubgraph("foreign");
        Assert.Throws<ArgumentException>(() => graph.AddNode("If", [x], ("then_branch", other)));
        graph.AddNode("If", [x], ("then_branch", body), ("else_branch", graph.CreateSubgraph("else")));
        Assert.Throws<ArgumentException>(() => graph.AddNode("If", [x], ("then_branch", body)));
        Assert.Throws<InvalidOperationException>(() => body.ToModelBytes("body", new Dictionary<string, string>()));
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double error = expected.Zip(actual, (e, a) => Math.Abs(e - (double)a)).DefaultIfEmpty().Max();
        Assert.True(error <= 1e-5, $"max abs error {error:G3}");
    }
}
