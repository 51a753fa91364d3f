using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace DeepArch.Trainers.Tests;

/// <summary>
/// Checks the TorchSharp native-library fix (eng/TorchSharpNativeFix): libLibTorchSharp.so requires
/// GLIBCXX_3.4.32, which older libstdc++ builds (Debian 12) lack, so the build marks that requirement
/// weak in the output copy. Without it, the first use of <c>torch</c> throws a TypeInitializationException.
/// </summary>
public class NativeLibraryFixTests(ITestOutputHelper output)
{
    private const string RequiredVersion = "GLIBCXX_3.4.32";
    private const ushort VerFlgWeak = 0x2;

    [Fact]
    public void TorchSharp_loads_and_trains_a_linear_regression()
    {
        // Data from System.Random, not torch's process-global generator, so tests running in parallel
        // cannot change it. y = x·[1.5, -2, 0.5, 3] + 0.25, no noise.
        const int rows = 128, features = 4;
        float[] weights = [1.5f, -2f, 0.5f, 3f];
        var random = new Random(1234);
        var xs = new float[rows * features];
        var ys = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            ys[r] = 0.25f;
            for (int c = 0; c < features; c++)
            {
                xs[r * features + c] = (float)(random.NextDouble() * 2 - 1);
                ys[r] += weights[c] * xs[r * features + c];
            }
        }

        torch.manual_seed(42);
        using var x = torch.tensor(xs, [rows, features]);
        using var y = torch.tensor(ys, [rows, 1]);
        using var model = torch.nn.Linear(features, 1);
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 0.05);

        float initialLoss = float.NaN, finalLoss = float.NaN;
        for (int step = 0; step < 200; step++)
        {
            using var scope = torch.NewDisposeScope();
            optimizer.zero_grad();
            var loss = torch.nn.functional.mse_loss(model.forward(x), y);
            loss.backward();
            optimizer.step();
            finalLoss = loss.item<float>();
            if (step == 0)
            {
                initialLoss = finalLoss;
            }
        }

        output.WriteLine($"torch {torch.__version__}: MSE loss {initialLoss:G4} -> {finalLoss:G3} after 200 Adam steps");
        Assert.True(float.IsFinite(initialLoss) && initialLoss > 0.1f, $"initial loss {initialLoss}");
        Assert.True(finalLoss < 0.5f * initialLoss, $"loss did not decrease enough: {initialLoss} -> {finalLoss}");
        Assert.True(finalLoss < 0.01f * initialLoss, $"loss did not converge: {initialLoss} -> {finalLoss}");
    }

    [Fact]
    public void Output_copy_of_LibTorchSharp_has_weak_GLIBCXX_3_4_32_or_system_libstdcxx_provides_it()
    {
        if (!OperatingSystem.IsLinux() || SystemLibStdCxxProvides(RequiredVersion))
        {
            return; // nothing to fix on this machine, so the build leaves the library untouched
        }

        string[] libraries = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.NotEmpty(libraries);
        foreach (string library in libraries)
        {
            Dictionary<string, ushort> requirements = ReadVersionRequirements(File.ReadAllBytes(library));
            Assert.Contains(requirements.Keys, name => name.StartsWith("GLIBC", StringComparison.Ordinal)); // parsed something real
            if (requirements.TryGetValue(RequiredVersion, out ushort flags))
            {
                output.WriteLine($"{library}: {RequiredVersion} vna_flags 0x{flags:x}");
                Assert.True((flags & VerFlgWeak) != 0, $"{library}: {RequiredVersion} is not weak (vna_flags 0x{flags:x}); is eng/TorchSharpNativeFix imported?");
            }
        }
    }

    private static bool SystemLibStdCxxProvides(string version)
    {
        string[] dirs = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64"];
        string? libstdcxx = dirs.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
        return libstdcxx != null
            && File.ReadAllBytes(libstdcxx).AsSpan().IndexOf(Encoding.ASCII.GetBytes(version + "\0")) >= 0;
    }

    /// <summary>
    /// Minimal ELF64 little-endian reader: every Vernaux entry (version requirement) of every
    /// SHT_GNU_verneed section, name -> vna_flags. Out-of-range offsets throw from the span slicing.
    /// </summary>
    private static Dictionary<string, ushort> ReadVersionRequirements(byte[] file)
    {
        Assert.True(file.Length >= 64 && file.AsSpan(0, 4).SequenceEqual("\u007FELF"u8), "not an ELF file");
        Assert.True(file[4] == 2 && file[5] == 1, "not ELFCLASS64 / ELFDATA2LSB");

        ushort U16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at, 2));
        int U32(int at) => checked((int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at, 4)));
        int U64(int at) => checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(at, 8)));

        var result = new Dictionary<string, ushort>();
        int shoff = U64(0x28), shentsize = U16(0x3A), shnum = U16(0x3C); // Elf64_Ehdr
        for (int i = 0; i < shnum; i++)
        {
            int sh = shoff + i * shentsize; // Elf64_Shdr: sh_type @4, sh_offset @0x18, sh_link @0x28, sh_info @0x2C
            if ((uint)U32(sh + 4) != 0x6ffffffe)
            {
                continue; // not SHT_GNU_verneed (.gnu.version_r)
            }
            int strtab = U64(shoff + U32(sh + 0x28) * shentsize + 0x18);
            int vn = U64(sh + 0x18);
            for (int n = U32(sh + 0x2C); n > 0; n--) // Elf64_Verneed: vn_cnt @2, vn_aux @8, vn_next @12
            {
                int vna = vn + U32(vn + 8);
                for (int a = U16(vn + 2); a > 0; a--) // Elf64_Vernaux: vna_flags @4, vna_name @8, vna_next @12
                {
                    ReadOnlySpan<byte> name = file.AsSpan(strtab + U32(vna + 8));
                    result[Encoding.ASCII.GetString(name[..name.IndexOf((byte)0)])] = U16(vna + 4);
                    vna += U32(vna + 12);
                }
                vn += U32(vn + 12);
            }
        }
        return result;
    }

    /// <summary>
    /// When TorchSharp does not load, DeepArch names the cause and the fix instead of TorchSharp's message: an unpatched native glue
    /// on an older libstdc++ (a ProjectReference from outside the repository gets no build step), no native glue at all, or a build
    /// that ships no libtorch (DeepArchSystemLibTorch) started without one on the library path.
    /// </summary>
    [Fact]
    public void A_failed_load_is_explained_with_its_fix()
    {
        string app = Path.Combine(Path.GetTempPath(), $"deeparch-load-{Guid.NewGuid():N}");
        string native = Path.Combine(app, "runtimes", "linux-x64", "native");
        try
        {
            Directory.CreateDirectory(native);
            string oldLibStdCxx = Path.Combine(app, "libstdc++.so.6");
            File.WriteAllText(oldLibStdCxx, "GLIBCXX_3.4.29 GLIBCXX_3.4.30");
            Assert.Contains("holds no libLibTorchSharp.so", TorchRuntime.DescribeLoadFailure(app, oldLibStdCxx));

            File.WriteAllText(Path.Combine(native, "libLibTorchSharp.so"), "\u007fELF ... GLIBCXX_3.4.32 ...");
            string system = TorchRuntime.DescribeLoadFailure(app, oldLibStdCxx);
            Assert.Contains("holds TorchSharp's glue but no libtorch", system);
            Assert.Contains("DeepArchSystemLibTorch=true", system);
            Assert.Contains("LD_LIBRARY_PATH", system);

            File.WriteAllText(Path.Combine(native, "libtorch.so"), "\u007fELF");
            string message = TorchRuntime.DescribeLoadFailure(app, oldLibStdCxx);
            Assert.Contains("requires GLIBCXX_3.4.32", message);
            Assert.Contains("TorchSharpNativeFix.targets", message);
            Assert.Contains("ProjectReference", message);

            string newLibStdCxx = Path.Combine(app, "libstdc++.so.6.new");
            File.WriteAllText(newLibStdCxx, "GLIBCXX_3.4.32");
            Assert.Contains("the inner exception says why", TorchRuntime.DescribeLoadFailure(app, newLibStdCxx));
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }
}
