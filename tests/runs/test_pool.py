"""The process pool: results in the order of the tasks, in this process or in several."""

import operator

from nnzoo.runs.pool import map_tasks, workers


def test_workers_only_for_several_jobs_and_tasks():
    assert [workers(1, 5), workers(3, 1), workers(3, 2), workers(2, 5)] == [0, 0, 2, 2]


def test_results_keep_the_order_of_the_tasks_in_one_process_and_in_two():
    tasks = [-3, 1, -2, 5]
    assert map_tasks(abs, tasks, 1) == [3, 1, 2, 5]
    assert map_tasks(operator.neg, tasks, 2) == [3, -1, 2, -5]  # spawned workers


def test_auto_jobs_fill_the_cores_at_the_threads_per_run():
    from nnzoo.engine.runtime import default_threads, usable_cores
    from nnzoo.runs.pool import auto_jobs

    assert auto_jobs(1) == usable_cores()
    assert auto_jobs(0) == max(1, usable_cores() // default_threads())
    assert auto_jobs(10**6) == 1
