using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace DeepArch.Bench;

/// <summary>
/// The ceiling: one ONNX Runtime session fed batches straight from a preloaded float[], as a user would call ONNX Runtime
/// directly: DeepArch's session settings (intra-op threads as ScoringThreads, inter-op 1, sequential, all graph
/// optimizations) and input and output bound to managed memory, OrtValues created per call. With <c>cuda</c>, the session
/// runs on ONNX Runtime's CUDA provider (GPU 0), inputs and outputs still in host memory. Also compiled into eng/gpu's GpuCheck.
/// </summary>
internal sealed class RawOrt : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _inputSize;
    private readonly int _outputSize;
    private readonly float[] _output;

    public RawOrt(string onnxPath, string inputName, int inputSize, string outputName, int outputSize, int intraOpThreads, int maxBatch, bool cuda = false)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount, // as DeepArch's ScoringThreads 0
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        if (cuda)
        {
            options.AppendExecutionProvider_CUDA(0);
        }
        _session = new InferenceSession(onnxPath, options);
        _inputNames = [inputName];
        _outputNames = [outputName];
        _inputSize = inputSize;
        _outputSize = outputSize;
        _output = new float[maxBatch * outputSize];
    }

    /// <summary>Scores <paramref name="rows"/> rows of <paramref name="data"/> in batches of <paramref name="batch"/>; returns the sum of each row's first output.</summary>
    /// <param name="firstOutputs">When given, receives each row's first output value.</param>
    public double Pass(float[] data, int rows, int batch, float[]? firstOutputs = null)
    {
        double sum = 0;
        for (int start = 0; start < rows; start += batch)
        {
            int n = Math.Min(batch, rows - start);
            Run(data.AsMemory(start * _inputSize, n * _inputSize), n);
            for (int r = 0; r < n; r++)
            {
                float v = _output[r * _outputSize];
                sum += v;
                if (firstOutputs is not null)
                {
                    firstOutputs[start + r] = v;
                }
            }
        }
        return sum;
    }

    /// <summary>
    /// The least any scorer fed by an <see cref="IDataView"/> does: a hand-written loop that reads <paramref name="column"/> through
    /// a cursor getter into a batch buffer and runs this session on every full batch (nothing else: no schema, no other
    /// columns, no row ids). Returns the sum of each row's first output.
    /// </summary>
    public double PassView(IDataView data, string column, int batch)
    {
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> row = default;
        var input = new float[batch * _inputSize];
        double sum = 0;
        while (true)
        {
            int n = 0;
            while (n < batch && cursor.MoveNext())
            {
                getter(ref row);
                row.CopyTo(input.AsSpan(n * _inputSize, _inputSize)); // dense or sparse, as DeepArch's reader copies it
                n++;
            }
            if (n == 0)
            {
                return sum;
            }
            Run(input.AsMemory(0, n * _inputSize), n);
            for (int r = 0; r < n; r++)
            {
                sum += _output[r * _outputSize];
            }
        }
    }

    /// <summary>Scores <paramref name="n"/> rows into the output buffer.</summary>
    private void Run(Memory<float> input, int n)
    {
        using var inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input, [n, _inputSize]);
        using var outputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _output.AsMemory(0, n * _outputSize), [n, _outputSize]);
        _session.Run(_runOptions, _inputNames, [inputValue], _outputNames, [outputValue]);
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
