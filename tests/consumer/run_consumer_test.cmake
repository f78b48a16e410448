# Run by ctest (test "consumer_projects"): installs the built library into a scratch prefix,
# then configures, builds and runs tests/consumer both with find_package(ebm) and with
# add_subdirectory. Inputs: EBM_SOURCE_DIR, EBM_BINARY_DIR, EBM_CUDA, WORK_DIR.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${EBM_BINARY_DIR} --prefix ${prefix})

set(src ${EBM_SOURCE_DIR}/tests/consumer)
if(EBM_CUDA)
  set(cuda_flag -DEBM_CUDA=ON)
else()
  set(cuda_flag -DEBM_CUDA=OFF)
endif()

# 1. find_package(ebm)
run(${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/package -DEBM_CONSUME=package
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/package -j 2)
run(${WORK_DIR}/package/consumer)

# 2. add_subdirectory(ebm)
run(${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/subdir -DEBM_CONSUME=subdir
    -DEBM_SOURCE_DIR=${EBM_SOURCE_DIR} ${cuda_flag} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/subdir -j 2 --target consumer)
run(${WORK_DIR}/subdir/consumer)
