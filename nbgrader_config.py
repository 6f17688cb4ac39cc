"""nbgrader settings for a maintainer who runs `nbgrader` by hand from the repository root.

`kit.grading` drives nbgrader itself in throwaway course folders with nbgrader's
defaults for everything that shapes a notebook, so `nbgrader generate_assignment
<lab> --force` here writes the same bytes to labs/<lab> as `build_labs`. Only
folders, the gradebook and execution limits are set below; anything nbgrader
creates while grading goes to .nbgrader/ (git-ignored), never into the tracked tree.
"""

import os

from kit.grading import CELL_TIMEOUT, LABS, SOLUTIONS

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

here = os.path.dirname(os.path.abspath(__file__))
work = os.path.join(here, ".nbgrader")
os.makedirs(work, exist_ok=True)  # sqlite creates the gradebook file, not its folder

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "reliability-dojo"
c.CourseDirectory.source_directory = SOLUTIONS
c.CourseDirectory.release_directory = LABS
c.CourseDirectory.submitted_directory = os.path.join(work, "submitted")
c.CourseDirectory.autograded_directory = os.path.join(work, "autograded")
c.CourseDirectory.feedback_directory = os.path.join(work, "feedback")
c.CourseDirectory.solution_directory = os.path.join(work, "solution")
c.CourseDirectory.source_with_tests_directory = os.path.join(work, "source_with_tests")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(work, "gradebook.db")
c.ExportPlugin.to = os.path.join(work, "grades.csv")

c.Execute.timeout = CELL_TIMEOUT
c.Execute.kernel_name = "python3"
