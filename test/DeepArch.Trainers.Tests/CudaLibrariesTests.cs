using Xunit;

namespace DeepArch.Trainers.Tests;

/// <summary>
/// A process that would mix two CUDA majors (a CUDA 12 libtorch beside ONNX Runtime's CUDA 13 build) is refused at its first
/// CUDA use with both versions named: the loaded libraries are read from /proc/self/maps.
/// </summary>
public class CudaLibrariesTests
{
    private const string Maps = """
        7f0000000000-7f0000001000 r-xp 00000000 08:01 123 /opt/torch/lib/libtorch_cuda.so
        7f0000001000-7f0000002000 r-xp 00000000 08:01 124 /opt/torch/lib/libcudart.so.12
        7f0000002000-7f0000003000 r--p 00001000 08:01 124 /opt/torch/lib/libcudart.so.12
        7f0000003000-7f0000004000 r-xp 00000000 08:01 125 /usr/local/cuda-13/lib64/libcudart.so.13.0.48
        7f0000004000-7f0000005000 r-xp 00000000 08:01 126 /usr/local/cuda-13/lib64/libcublasLt.so.13
        7f0000005000-7f0000006000 r-xp 00000000 08:01 127 /usr/lib/x86_64-linux-gnu/libcudnn.so.9
        7f0000006000-7f0000007000 rw-p 00000000 00:00 0
        7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
        """;

    [Fact]
    public void The_loaded_cuda_libraries_are_read_with_their_major_and_file()
    {
        var loaded = CudaLibraries.Parse(Maps);

        Assert.Equal(
            [("libcudart.so", 12, "/opt/torch/lib/libcudart.so.12"), ("libcudart.so", 13, "/usr/local/cuda-13/lib64/libcudart.so.13.0.48"),
             ("libcublasLt.so", 13, "/usr/local/cuda-13/lib64/libcublasLt.so.13")],
            loaded.Select(l => (l.Library, l.Major, l.Path)));
    }

    [Fact]
    public void Two_majors_are_refused_with_both_named_and_one_major_is_not()
    {
        var loaded = CudaLibraries.Parse(Maps);

        Assert.Equal("this process has loaded two CUDA majors: libcudart.so.12 (/opt/torch/lib/libcudart.so.12) and " +
            "libcudart.so.13 (/usr/local/cuda-13/lib64/libcudart.so.13.0.48)", CudaLibraries.MixedMajors(loaded));
        Assert.Equal("libcudart.so.12 is already loaded (/opt/torch/lib/libcudart.so.12)", CudaLibraries.OtherMajorThan(13, loaded));
        var cuda13 = loaded.Where(l => l.Major == 13).ToList();
        Assert.Null(CudaLibraries.MixedMajors(cuda13));
        Assert.Null(CudaLibraries.OtherMajorThan(13, cuda13));
    }

    [Fact]
    public void A_process_without_cuda_has_none_loaded()
    {
        // No GPU, no CUDA runtime on this project's machines: nothing is reported, so nothing is refused.
        Assert.Null(CudaLibraries.MixedMajors(CudaLibraries.InThisProcess()));
    }
}
