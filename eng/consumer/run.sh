#!/usr/bin/env bash
# The consumer check (CI runs it after the tests): packs DeepArch.Trainers and DeepArch.MLNet into a local folder feed,
# then builds and runs, outside the repository, a console project that restores DeepArch.MLNet from that feed (and the rest
# from nuget.org) and trains, saves, loads and scores an anomaly detector. A package that does not restore, build, load
# TorchSharp or score fails it; the same project published framework-dependent and self-contained must run from its publish
# folder. Then the same program with a ProjectReference to src/DeepArch.MLNet from outside the
# repository: without the native fix's import it must either work (a libstdc++ of GCC 13 or later) or fail with DeepArch's
# error naming the import; with the import it must work.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
# A version of its own per run, so that NuGet's global package cache cannot hand back an older build of the same version.
version="0.1.0-consumer.$(date -u +%Y%m%d%H%M%S).$$"
cleanup() {
  rm -rf "$work"
  rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/deeparch.trainers/$version" "${NUGET_PACKAGES:-$HOME/.nuget/packages}/deeparch.mlnet/$version"
}
trap cleanup EXIT

dotnet pack "$repo/src/DeepArch.Trainers" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet
dotnet pack "$repo/src/DeepArch.MLNet" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet

# write_project DIR REFERENCE [EXTRA]: a console project of the check's program in DIR, referencing DeepArch by REFERENCE.
write_project() {
  mkdir -p "$1"
  cp "$(dirname "$0")/Program.cs" "$1/Program.cs"
  cat > "$1/Consumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <PlatformTarget>x64</PlatformTarget>
  </PropertyGroup>
  <ItemGroup>
    $2
  </ItemGroup>
  ${3:-}
</Project>
XML
}

write_project "$work/consumer" "<PackageReference Include=\"DeepArch.MLNet\" Version=\"$version\" />"
cat > "$work/consumer/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
XML
(cd "$work/consumer" && dotnet run -c Release --nologo -v quiet)

# The same consumer published, framework-dependent and self-contained, and run from the published folder alone: the native
# files (libtorch, TorchSharp's glue patched by the package's build step, ONNX Runtime) must be in the publish output.
(cd "$work/consumer" && dotnet publish -c Release -r linux-x64 --self-contained false -o "$work/publish-fd" --nologo -v quiet)
(cd "$work/publish-fd" && dotnet Consumer.dll)
(cd "$work/consumer" && dotnet publish -c Release -r linux-x64 --self-contained true -o "$work/publish-sc" --nologo -v quiet)
(cd "$work/publish-sc" && ./Consumer)

# A ProjectReference from outside the repository.
reference="<ProjectReference Include=\"$repo/src/DeepArch.MLNet/DeepArch.MLNet.csproj\" />"
write_project "$work/reference" "$reference"
if (cd "$work/reference" && dotnet run -c Release --nologo -v quiet > "$work/reference.log" 2>&1); then
  echo "ProjectReference from outside the repository, no import: works here (libstdc++ of GCC 13 or later)."
elif grep -q "TorchSharpNativeFix.targets" "$work/reference.log"; then
  echo "ProjectReference from outside the repository, no import: DeepArch's error names the import, as it should."
else
  echo "ProjectReference from outside the repository failed without DeepArch's error:" >&2
  tail -n 20 "$work/reference.log" >&2
  exit 1
fi
write_project "$work/reference" "$reference" "<Import Project=\"$repo/eng/TorchSharpNativeFix/TorchSharpNativeFix.targets\" Condition=\"'\$(_DeepArchNativeFixImported)' != 'true'\" />"
(cd "$work/reference" && dotnet run -c Release --nologo -v quiet)
