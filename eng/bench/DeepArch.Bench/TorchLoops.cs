using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepArch.Bench;

/// <summary>
/// "Raw TorchSharp": the benchmark's networks built from plain TorchSharp modules (Linear, ReLU, Conv2d, AvgPool2d, LSTM)
/// and trained by a loop written here, on data preloaded as one tensor, with the protocol of the PyTorch reference
/// (torch_reference.py): per epoch a torch.randperm shuffle, batches taken with index_select (last partial batch
/// kept), zero_grad, forward, loss, backward, Adam step, loss.item(). No DeepArch type is involved.
/// </summary>
/// <remarks>
/// The architectures match what DeepArch builds for the same options: the autoencoder's code layer has no activation
/// (DeepArch's <c>Autoencoder.Create</c> default; the PyTorch reference puts a ReLU there, a negligible cost), LeNet-5 uses
/// average pooling and ReLU as in both, and the LSTM classifier reads the last hidden state.
/// </remarks>
internal static class TorchLoops
{
    /// <summary>The LSTM classifier of the reference: LSTM(features -> hidden, 1 layer, batch first), last hidden state -> Linear(classes).</summary>
    private sealed class LstmClassifier : nn.Module<Tensor, Tensor>
    {
        private readonly LSTM _lstm;
        private readonly Linear _fc;
        private readonly long _steps;
        private readonly long _features;

        public LstmClassifier(int steps, int features, int hidden, int classes) : base(nameof(LstmClassifier))
        {
            _steps = steps;
            _features = features;
            _lstm = nn.LSTM(features, hidden, numLayers: 1, batchFirst: true);
            _fc = nn.Linear(hidden, classes);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            // Rows arrive flat, [batch, steps * features], as DeepArch's Recurrent layer takes them.
            var (_, h, _) = _lstm.call(input.view(input.shape[0], _steps, _features));
            return _fc.call(h[-1]);
        }
    }

    /// <summary>784-256-32-256-784, ReLU hidden, no code activation, sigmoid output.</summary>
    public static nn.Module<Tensor, Tensor> Autoencoder() => nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32),
        nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid());

    /// <summary>LeNet-5 on 1x32x32: conv6 5x5, ReLU, avgpool 2, conv16 5x5, ReLU, avgpool 2, 120, 84, 10.</summary>
    public static nn.Module<Tensor, Tensor> LeNet5() => nn.Sequential(
        nn.Unflatten(1, [1, 32, 32]),
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10));

    /// <summary>LSTM(16 -> 128) over 50 steps, last hidden state -> 4 classes.</summary>
    public static nn.Module<Tensor, Tensor> Lstm(int steps, int features, int hidden, int classes) => new LstmClassifier(steps, features, hidden, classes);

    /// <summary>
    /// Calls per second of the LSTM's recurrent GEMM of one step alone, as torch_reference.py's <c>lstm_gemm</c> times it:
    /// <c>linear</c> of the hidden state [128, 128] by W_hh [512, 128] plus bias, without gradient, median of 5 blocks of 2,000
    /// calls after 200 untimed, on <paramref name="threads"/> libtorch threads (0: one per core). libtorch sends it to the BLAS it
    /// was built with (MKL in libtorch-cpu), PyTorch 1.13 of Debian to OpenBLAS.
    /// </summary>
    public static double LstmGemmCallsPerSecond(int threads)
    {
        torch.set_num_threads(threads > 0 ? threads : Environment.ProcessorCount);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator(1);
        var h = randn([128, 128], generator: generator);
        var w = randn([512, 128], generator: generator);
        var b = randn([512], generator: generator);
        for (int i = 0; i < 200; i++)
        {
            nn.functional.linear(h, w, b).Dispose();
        }
        var rates = new double[5];
        for (int block = 0; block < rates.Length; block++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 2000; i++)
            {
                nn.functional.linear(h, w, b).Dispose();
            }
            rates[block] = 2000 / watch.Elapsed.TotalSeconds;
        }
        Array.Sort(rates);
        return rates[rates.Length / 2];
    }

    /// <summary>
    /// Builds the network (seeded) and trains it for <paramref name="epochs"/> epochs on <paramref name="x"/> (rows x width,
    /// row-major): reconstruction (MSE against <paramref name="x"/>) when <paramref name="labels"/> is null, else
    /// cross-entropy against the integer classes in <paramref name="labels"/>. Returns the last epoch's mean loss.
    /// </summary>
    public static double Train(Func<nn.Module<Tensor, Tensor>> build, float[] x, int width, float[]? labels, int epochs, int batch, double rate, int seed, int threads)
    {
        torch.set_num_threads(threads > 0 ? threads : Environment.ProcessorCount);
        torch.random.manual_seed(seed);
        int rows = x.Length / width;
        using var scope = NewDisposeScope();
        using var model = build();
        model.train();
        var features = tensor(x, [rows, width]);
        var targets = labels is null ? features : tensor(labels.Select(v => (long)v).ToArray(), [rows]);
        using var optimizer = optim.Adam(model.parameters(), rate);
        var generator = new Generator((ulong)seed);
        double lastLoss = double.NaN;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double total = 0;
            using (NewDisposeScope())
            {
                var order = randperm(rows, generator: generator);
                for (int start = 0; start < rows; start += batch)
                {
                    using var step = NewDisposeScope();
                    int size = Math.Min(batch, rows - start);
                    var index = order.narrow(0, start, size);
                    var xb = features.index_select(0, index);
                    var yb = targets.index_select(0, index);
                    optimizer.zero_grad();
                    var output = model.call(xb);
                    var loss = labels is null ? nn.functional.mse_loss(output, yb) : nn.functional.cross_entropy(output, yb);
                    loss.backward();
                    optimizer.step();
                    total += loss.item<float>() * size;
                }
            }
            lastLoss = total / rows;
        }
        return lastLoss;
    }
}
