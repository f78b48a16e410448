# Decides whether the CUDA backend is built (EBM_CUDA = AUTO | ON | OFF) and provides
# ebm_configure_cuda_target(). The toolkit is looked for on PATH and under /usr/local/cuda.
# No GPU is needed to build: code is generated for EBM_CUDA_ARCHITECTURES.
set(EBM_WITH_CUDA OFF)
if(NOT EBM_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(EBM_NVCC nvcc HINTS /usr/local/cuda/bin)
    if(EBM_NVCC)
      set(CMAKE_CUDA_COMPILER ${EBM_NVCC})
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES ${EBM_CUDA_ARCHITECTURES})
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(EBM_WITH_CUDA ON)
  elseif(EBM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "EBM_CUDA=ON but nvcc was found neither on PATH nor in /usr/local/cuda/bin")
  endif()
endif()

if(EBM_WITH_CUDA)
  # cuDNN: the toolkit's copy, or the nvidia-cudnn Python wheel that PyTorch installs.
  set(EBM_CUDNN_HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
  file(GLOB EBM_CUDNN_WHEEL_DIRS /usr/local/lib/python3*/dist-packages/nvidia/cudnn
       /usr/lib/python3/dist-packages/nvidia/cudnn $ENV{HOME}/.local/lib/python3*/site-packages/nvidia/cudnn
       /opt/conda/lib/python3*/site-packages/nvidia/cudnn /usr/local/lib/python3*/site-packages/nvidia/cudnn
       $ENV{HOME}/.pyenv/versions/*/lib/python3*/site-packages/nvidia/cudnn)
  if(DEFINED ENV{EBM_CUDNN_ROOT})
    list(PREPEND EBM_CUDNN_WHEEL_DIRS $ENV{EBM_CUDNN_ROOT})
  endif()
  foreach(d ${EBM_CUDNN_WHEEL_DIRS})
    list(APPEND EBM_CUDNN_HINTS ${d}/lib)
  endforeach()
  find_library(EBM_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${EBM_CUDNN_HINTS})
  find_path(EBM_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${EBM_CUDNN_WHEEL_DIRS}
            PATH_SUFFIXES include)
  if(NOT EBM_CUDNN_LIBRARY OR NOT EBM_CUDNN_INCLUDE_DIR)
    message(FATAL_ERROR "CUDA backend: cuDNN not found (looked in ${EBM_CUDNN_HINTS}); set EBM_CUDNN_ROOT")
  endif()
  message(STATUS "ebm: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
  message(STATUS "ebm: cuDNN library ${EBM_CUDNN_LIBRARY}, header ${EBM_CUDNN_INCLUDE_DIR}")
else()
  message(STATUS "ebm: CUDA backend OFF")
endif()

function(ebm_configure_cuda_target target)
  set_target_properties(${target} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON
                                             CUDA_SEPARABLE_COMPILATION OFF)
  target_compile_definitions(${target} PUBLIC EBM_WITH_CUDA=1)
  # For messages such as "no kernel image for this GPU ... this build targets 80-real,90".
  string(REPLACE ";" "," _ebm_archs "${CMAKE_CUDA_ARCHITECTURES}")
  target_compile_definitions(${target} PRIVATE EBM_CUDA_ARCHITECTURES_LIST="${_ebm_archs}")
  target_include_directories(${target} PRIVATE ${EBM_CUDNN_INCLUDE_DIR})
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Werror=all-warnings -lineinfo>)
  target_link_libraries(${target} PUBLIC CUDA::cudart CUDA::cublas CUDA::cublasLt CUDA::curand
                                         ${EBM_CUDNN_LIBRARY})
endfunction()
