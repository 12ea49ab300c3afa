# The CUDA kernels of the training ops (docs/cuda.md), added to linger_torch.
# Included by csrc/torch/CMakeLists.txt after find_package(Torch) and add_library(linger_torch).
#
#   LINGER_CUDA=AUTO (default)  built when the torch found was built with CUDA and a CUDA compiler (nvcc) of
#                               the same major version is usable; otherwise a message says why they are skipped
#                               (CUDA tensors then take the ATen-op forms: same values for finite inputs, slower).
#   LINGER_CUDA=ON              the same, but a missing piece is an error.   LINGER_CUDA=OFF: never.
#   LINGER_CUDA_ARCHITECTURES   GPU architectures (CMake CUDA_ARCHITECTURES syntax). Default "80-real;90":
#                               machine code for A100 (sm_80) and H100/H200 (sm_90) plus sm_90 PTX that newer
#                               GPUs compile at load time; "native" = the GPUs of this machine (CMake >= 3.24).
set(LINGER_CUDA AUTO CACHE STRING "Build the CUDA kernels of the training ops: AUTO, ON or OFF")
set_property(CACHE LINGER_CUDA PROPERTY STRINGS AUTO ON OFF)
set(LINGER_CUDA_ARCHITECTURES "80-real;90" CACHE STRING "GPU architectures of the CUDA kernels (CUDA_ARCHITECTURES syntax)")

string(TOUPPER "${LINGER_CUDA}" _linger_cuda_mode)
if(NOT _linger_cuda_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "linger: LINGER_CUDA must be AUTO, ON or OFF, got '${LINGER_CUDA}'")
endif()

set(_linger_cuda_skip "")
if(_linger_cuda_mode STREQUAL "OFF")
  set(_linger_cuda_skip "LINGER_CUDA=OFF")
elseif(NOT C10_CUDA_LIBRARY)
  set(_linger_cuda_skip "torch ${Torch_VERSION} was built without CUDA")
else()
  if(NOT CMAKE_CUDA_COMPILER)  # a CUDA torch's TorchConfig normally enabled CUDA already
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      enable_language(CUDA)
    endif()
  endif()
  if(NOT CMAKE_CUDA_COMPILER)
    set(_linger_cuda_skip "no CUDA compiler found (put nvcc on PATH or set CUDACXX)")
  else()
    # The kernels link the CUDA runtime of this nvcc; torch loads its own: their major versions must agree.
    set(_torch_cuda "")
    if(Python3_EXECUTABLE)
      execute_process(COMMAND ${Python3_EXECUTABLE} -c "import torch; print(torch.version.cuda or '')"
                      OUTPUT_VARIABLE _torch_cuda OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    endif()
    string(REGEX MATCH "^[0-9]+" _torch_cuda_major "${_torch_cuda}")
    string(REGEX MATCH "^[0-9]+" _nvcc_major "${CMAKE_CUDA_COMPILER_VERSION}")
    if(_torch_cuda_major AND NOT _torch_cuda_major STREQUAL _nvcc_major)
      set(_linger_cuda_skip "torch was built with CUDA ${_torch_cuda} but nvcc is ${CMAKE_CUDA_COMPILER_VERSION} (another major version): use a CUDA ${_torch_cuda_major}.x toolkit")
    endif()
  endif()
endif()

if(_linger_cuda_skip)
  if(_linger_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "linger: LINGER_CUDA=ON but the CUDA kernels cannot be built: ${_linger_cuda_skip}")
  endif()
  message(STATUS "linger: CUDA kernels skipped: ${_linger_cuda_skip} (CUDA tensors use the ATen-op forms)")
  return()
endif()

# torch's CMake config puts -gencode flags for its own architecture list (TORCH_CUDA_ARCH_LIST, or every
# common one when no GPU is present) into CMAKE_CUDA_FLAGS: drop them (this directory only), the target's
# CUDA_ARCHITECTURES decides.
string(REGEX REPLACE "-gencode[ =]+arch=compute_[0-9a-z]+,code=[^ ]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")

# The target's options so far are GCC's (warnings): keep them for C++ only, nvcc gets its own.
get_target_property(_linger_opts linger_torch COMPILE_OPTIONS)
if(_linger_opts)
  set(_linger_cxx_opts "")
  foreach(_o IN LISTS _linger_opts)
    list(APPEND _linger_cxx_opts "$<$<COMPILE_LANGUAGE:CXX>:${_o}>")
  endforeach()
  set_property(TARGET linger_torch PROPERTY COMPILE_OPTIONS "${_linger_cxx_opts}")
endif()
target_compile_options(linger_torch PRIVATE "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>")
if(CCACHE_PROGRAM)
  set_target_properties(linger_torch PROPERTIES CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

target_sources(linger_torch PRIVATE ${CMAKE_CURRENT_LIST_DIR}/training_kernels.cu
                                    ${CMAKE_CURRENT_LIST_DIR}/training_ops_cuda.cpp)
# Exact IEEE float operations as on the CPU: no contraction into fused multiply-add, no fast math, denormals kept.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/training_kernels.cu PROPERTIES
                            COMPILE_OPTIONS "-fmad=false;-ftz=false;-prec-div=true;-prec-sqrt=true")
set_target_properties(linger_torch PROPERTIES CUDA_ARCHITECTURES "${LINGER_CUDA_ARCHITECTURES}"
                                              CUDA_RUNTIME_LIBRARY Shared)
string(REPLACE ";" " " _linger_cuda_archs "${LINGER_CUDA_ARCHITECTURES}")
target_compile_definitions(linger_torch PRIVATE "LINGER_CUDA_ARCHS=\"${_linger_cuda_archs}\"")
message(STATUS "linger: CUDA kernels built for ${LINGER_CUDA_ARCHITECTURES} (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
               "torch CUDA ${_torch_cuda})")
